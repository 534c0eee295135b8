"""The operator console on AWS: a private bucket behind CloudFront with origin access control and security
headers, a user pool nobody signs up to, and uploads from the console's origin only."""

from __future__ import annotations

from infra import constants
from infra.console_policy import CONFIG_FILE, HSTS_MAX_AGE_S

from .conftest import Resources, of_type


def _one(resources: Resources, resource_type: str) -> tuple[str, dict]:
    ((logical_id, resource),) = of_type(resources, resource_type).items()
    return logical_id, resource["Properties"]


def _site_bucket_id(resources: Resources) -> str:
    (bucket_id,) = [i for i in of_type(resources, "AWS::S3::Bucket") if i.startswith("ConsoleSiteBucket")]
    return bucket_id


def test_the_console_bucket_is_private_encrypted_and_tls_only(resources: Resources) -> None:
    bucket = resources[_site_bucket_id(resources)]["Properties"]
    assert bucket["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
        "ServerSideEncryptionByDefault"
    ] == {"SSEAlgorithm": "AES256"}
    assert "WebsiteConfiguration" not in bucket  # served by CloudFront only, never as an S3 website
    assert bucket["LoggingConfiguration"]["LogFilePrefix"] == "console-site/"


def test_only_the_distribution_reads_the_console_bucket(resources: Resources) -> None:
    site = _site_bucket_id(resources)
    distribution_id, _ = _one(resources, "AWS::CloudFront::Distribution")
    (policy,) = [
        p["Properties"]
        for p in of_type(resources, "AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": site}
    ]
    allows = [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    # Then the one grant is CloudFront's service principal, for this distribution only (OAC), read only
    (grant,) = allows
    assert grant["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert grant["Action"] == "s3:GetObject"
    assert {"Ref": distribution_id} in grant["Condition"]["StringEquals"]["AWS:SourceArn"]["Fn::Join"][1]
    # And requests without TLS are denied
    denies = [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
    assert any(s["Condition"].get("Bool", {}).get("aws:SecureTransport") == "false" for s in denies)


def test_the_distribution_uses_origin_access_control_and_https(resources: Resources) -> None:
    oac_id, oac = _one(resources, "AWS::CloudFront::OriginAccessControl")
    assert oac["OriginAccessControlConfig"]["SigningBehavior"] == "always"
    assert oac["OriginAccessControlConfig"]["OriginAccessControlOriginType"] == "s3"
    _, distribution = _one(resources, "AWS::CloudFront::Distribution")
    config = distribution["DistributionConfig"]
    s3_origin, api_origin = config["Origins"]
    assert s3_origin["OriginAccessControlId"] == {"Fn::GetAtt": [oac_id, "Id"]}
    assert s3_origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}  # no legacy OAI
    assert api_origin["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"
    assert config["DefaultRootObject"] == "index.html"
    assert config["DefaultCacheBehavior"]["ViewerProtocolPolicy"] == "redirect-to-https"
    (api,) = config["CacheBehaviors"]
    # And the API's stage is under the console's origin (no CORS), never cached, over HTTPS only
    assert api["PathPattern"] == f"/{constants.API_STAGE_NAME}/*"
    assert api["ViewerProtocolPolicy"] == "https-only"
    # And the operator's ID token reaches the API (CloudFront forwards Authorization only as part of the
    # cache key), while nothing is kept: API Gateway sends no Cache-Control, and the default TTL is 0
    policy_id = api["CachePolicyId"]["Ref"]
    cache = resources[policy_id]["Properties"]["CachePolicyConfig"]
    assert cache["DefaultTTL"] == 0 and cache["MinTTL"] == 0 and cache["MaxTTL"] <= 1
    key = cache["ParametersInCacheKeyAndForwardedToOrigin"]
    assert key["HeadersConfig"] == {"HeaderBehavior": "whitelist", "Headers": ["Authorization"]}
    assert key["QueryStringsConfig"]["QueryStringBehavior"] == "all"
    assert api["OriginRequestPolicyId"] == "b689b0a8-53d0-40ab-baf2-68738e2966ac"  # AllViewerExceptHostHeader


def test_every_console_response_carries_the_security_headers(resources: Resources) -> None:
    policy_id, policy = _one(resources, "AWS::CloudFront::ResponseHeadersPolicy")
    headers = policy["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    csp = "".join(
        part if isinstance(part, str) else "<token>"
        for part in _flatten(headers["ContentSecurityPolicy"]["ContentSecurityPolicy"])
    )
    assert "script-src 'self';" in csp and "style-src 'self';" in csp and "object-src 'none'" in csp
    assert "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert headers["StrictTransportSecurity"]["AccessControlMaxAgeSec"] == HSTS_MAX_AGE_S
    assert headers["StrictTransportSecurity"]["IncludeSubdomains"] is True
    assert headers["FrameOptions"]["FrameOption"] == "DENY"
    assert headers["ContentTypeOptions"]["Override"] is True
    assert headers["ReferrerPolicy"]["ReferrerPolicy"] == "no-referrer"
    assert all(h["Override"] is True for h in headers.values())
    # And both behaviours (files and API) send them
    _, distribution = _one(resources, "AWS::CloudFront::Distribution")
    config = distribution["DistributionConfig"]
    for behavior in [config["DefaultCacheBehavior"], *config["CacheBehaviors"]]:
        assert behavior["ResponseHeadersPolicyId"] == {"Ref": policy_id}


def _flatten(value) -> list:
    if isinstance(value, dict) and "Fn::Join" in value:
        return [p for part in value["Fn::Join"][1] for p in _flatten(part)]
    return [value]


def test_operators_are_invited_not_signed_up_and_passwords_are_strong(resources: Resources) -> None:
    _, pool = _one(resources, "AWS::Cognito::UserPool")
    assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    password = pool["Policies"]["PasswordPolicy"]
    assert password["MinimumLength"] >= 12
    assert all(
        password[k] for k in ("RequireLowercase", "RequireUppercase", "RequireNumbers", "RequireSymbols")
    )
    assert pool["MfaConfiguration"] == "OPTIONAL"
    _, client = _one(resources, "AWS::Cognito::UserPoolClient")
    assert client.get("GenerateSecret") in (None, False)  # a browser keeps no secret
    assert client["PreventUserExistenceErrors"] == "ENABLED"
    assert client["IdTokenValidity"] == 60 and client["TokenValidityUnits"]["IdToken"] == "minutes"


def test_browser_uploads_are_accepted_from_the_console_origin_only(resources: Resources) -> None:
    (uploads,) = [
        r for i, r in of_type(resources, "AWS::S3::Bucket").items() if i.startswith("StorageUploadsBucket")
    ]
    distribution_id, _ = _one(resources, "AWS::CloudFront::Distribution")
    (rule,) = uploads["Properties"]["CorsConfiguration"]["CorsRules"]
    assert rule["AllowedMethods"] == ["POST"]
    assert rule["AllowedOrigins"] == [
        {"Fn::Join": ["", ["https://", {"Fn::GetAtt": [distribution_id, "DomainName"]}]]}
    ]


def test_the_console_files_and_their_config_are_deployed_and_the_cache_invalidated(
    resources: Resources,
) -> None:
    site = _site_bucket_id(resources)
    distribution_id, _ = _one(resources, "AWS::CloudFront::Distribution")
    (deployment,) = [
        d["Properties"]
        for d in of_type(resources, "Custom::CDKBucketDeployment").values()
        if d["Properties"]["DestinationBucketName"] == {"Ref": site}
    ]
    assert len(deployment["SourceObjectKeys"]) == 2  # the files, and config.json with the pool's client id
    assert deployment["DistributionId"] == {"Ref": distribution_id}
    assert deployment["DistributionPaths"] == ["/*"]
    markers = str(deployment["SourceMarkers"])
    assert "ConsoleOperatorsConsoleClient" in markers and CONFIG_FILE not in markers
