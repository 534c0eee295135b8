// Sign-in. Locally: the operator key the local runtime prints. On AWS: a Cognito user pool (the API's
// operator routes sit behind a Cognito authorizer), signed in with the user's name and password.
// Either credential lives in sessionStorage only: closing the tab signs out.
const KEY = "creative-engine.sign-in";

export const session = {
  config: { mode: "key" },
  get() {
    try {
      return JSON.parse(sessionStorage.getItem(KEY) || "null");
    } catch {
      return null;
    }
  },
  signedIn() {
    const current = this.get();
    return Boolean(current && (!current.expires_at || current.expires_at > Date.now()));
  },
  authorization() {
    const current = this.get();
    if (!current) return "";
    return current.mode === "key" ? `Bearer ${current.key}` : current.id_token;
  },
  signOut() {
    sessionStorage.removeItem(KEY);
  },
  async signIn(fields) {
    if (this.config.mode === "cognito") {
      const tokens = await cognitoPasswordSignIn(this.config, fields.username, fields.password);
      sessionStorage.setItem(
        KEY,
        JSON.stringify({
          mode: "cognito",
          id_token: tokens.IdToken,
          expires_at: Date.now() + tokens.ExpiresIn * 1000,
        }),
      );
    } else {
      sessionStorage.setItem(KEY, JSON.stringify({ mode: "key", key: fields.key.trim() }));
    }
  },
};

// Cognito's USER_PASSWORD_AUTH over its public JSON endpoint: no SDK, the app client has no secret.
async function cognitoPasswordSignIn(config, username, password) {
  const response = await fetch(`https://cognito-idp.${config.region}.amazonaws.com/`, {
    method: "POST",
    headers: {
      "Content-Type": "application/x-amz-json-1.1",
      "X-Amz-Target": "AWSCognitoIdentityProviderService.InitiateAuth",
    },
    body: JSON.stringify({
      AuthFlow: "USER_PASSWORD_AUTH",
      ClientId: config.client_id,
      AuthParameters: { USERNAME: username, PASSWORD: password },
    }),
  });
  const payload = await response.json();
  if (!response.ok) throw new Error(payload.message || payload.__type || "sign-in failed");
  if (!payload.AuthenticationResult) {
    throw new Error(`Cognito asks for ${payload.ChallengeName}: finish it in the AWS console first`);
  }
  return payload.AuthenticationResult;
}
