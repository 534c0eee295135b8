"""The operator console on AWS: its files in a private bucket behind CloudFront, and who may sign in.

CloudFront serves the files (origin access control: the bucket stays private) and forwards `/prod/*` to
the API's stage, so the console and the API share an origin, as they do locally: no CORS on the API. Every
response carries the security headers of infra.console_policy. Operators sign in to a Cognito user pool
(no self sign-up: an administrator creates each operator); the API's operator routes take its ID tokens
through a Cognito authorizer (infra.constructs.api). Racing routes keep their API keys.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, Aws, Duration, RemovalPolicy, Stack, Validations
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3_deployment
from constructs import Construct

from infra import constants
from infra.console_policy import CONFIG_FILE, HSTS_MAX_AGE_S, content_security_policy
from infra.constructs.model_deployment import NAG_REASONS as BUCKET_DEPLOYMENT_NAG_REASONS
from infra.constructs.model_deployment import bootstrap_asset_bucket_in_nag
from infra.paths import CONSOLE_DIR

# ID tokens an operator's sign-in lasts; the console returns to its sign-in page when one expires.
ID_TOKEN_VALIDITY = Duration.hours(1)
# How long a browser may cache the console's files. A deploy invalidates the distribution's copies, and the
# console reads config.json with `cache: "no-store"`, so a new app client id is read at the next load.
FILE_CACHE = Duration.minutes(5)


class Console(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        rest_api: apigw.RestApi,
        uploads_bucket: s3.IBucket,
        bucket_props: dict,
    ) -> None:
        super().__init__(scope, construct_id)
        region = Stack.of(self).region
        self.site_bucket = s3.Bucket(self, "SiteBucket", **bucket_props)
        self.user_pool = cognito.UserPool(
            self,
            "Operators",
            self_sign_up_enabled=False,  # an administrator invites each operator
            sign_in_aliases=cognito.SignInAliases(email=True, username=True),
            password_policy=cognito.PasswordPolicy(
                min_length=12,
                require_digits=True,
                require_lowercase=True,
                require_uppercase=True,
                require_symbols=True,
                temp_password_validity=Duration.days(3),
            ),
            mfa=cognito.Mfa.OPTIONAL,
            mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.client = self.user_pool.add_client(
            "ConsoleClient",
            generate_secret=False,  # a browser cannot keep a secret
            auth_flows=cognito.AuthFlow(user_password=True, user_srp=True),
            id_token_validity=ID_TOKEN_VALIDITY,
            access_token_validity=ID_TOKEN_VALIDITY,
            prevent_user_existence_errors=True,
        )
        self.authorizer = apigw.CognitoUserPoolsAuthorizer(
            self, "OperatorAuthorizer", cognito_user_pools=[self.user_pool]
        )

        # Signed S3 URLs (thumbnails, upload forms) by wildcard: naming the uploads bucket here would make the
        # bucket's CORS rule (which names the distribution) and this policy depend on each other.
        signed_s3 = [f"https://*.s3.{Aws.URL_SUFFIX}", f"https://*.s3.{region}.{Aws.URL_SUFFIX}"]
        self.headers = cloudfront.ResponseHeadersPolicy(
            self,
            "SecurityHeaders",
            comment="Operator console: CSP, HSTS, no framing, no sniffing, no referrer.",
            security_headers_behavior=cloudfront.ResponseSecurityHeadersBehavior(
                content_security_policy=cloudfront.ResponseHeadersContentSecurityPolicy(
                    content_security_policy=content_security_policy(
                        connect=[f"https://cognito-idp.{region}.amazonaws.com", *signed_s3], images=signed_s3
                    ),
                    override=True,
                ),
                strict_transport_security=cloudfront.ResponseHeadersStrictTransportSecurity(
                    access_control_max_age=Duration.seconds(HSTS_MAX_AGE_S),
                    include_subdomains=True,
                    override=True,
                ),
                frame_options=cloudfront.ResponseHeadersFrameOptions(
                    frame_option=cloudfront.HeadersFrameOption.DENY, override=True
                ),
                content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),
                referrer_policy=cloudfront.ResponseHeadersReferrerPolicy(
                    referrer_policy=cloudfront.HeadersReferrerPolicy.NO_REFERRER, override=True
                ),
            ),
        )
        # The API by its id, not its URL: the URL names the deployed stage, which depends on every method
        # and so on every function; the distribution needs the API to exist, nothing more.
        api_domain = f"{rest_api.rest_api_id}.execute-api.{region}.{Aws.URL_SUFFIX}"
        # CloudFront forwards the Authorization header (the operator's ID token) only when it is part of the
        # cache key, which a policy that caches nothing (all TTLs 0) may not have: so the default TTL is 0
        # (API Gateway sends no Cache-Control, nothing is kept) and the maximum 1 second.
        self.api_cache_policy = cloudfront.CachePolicy(
            self,
            "ApiPassThrough",
            comment="The API behind the console's origin: not cached; the ID token reaches the authorizer.",
            default_ttl=Duration.seconds(0),
            min_ttl=Duration.seconds(0),
            max_ttl=Duration.seconds(1),
            header_behavior=cloudfront.CacheHeaderBehavior.allow_list("Authorization"),
            query_string_behavior=cloudfront.CacheQueryStringBehavior.all(),
            cookie_behavior=cloudfront.CacheCookieBehavior.none(),
        )
        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment="Creative Engine operator console",
            default_root_object="index.html",
            default_behavior=cloudfront.BehaviorOptions(
                origin=origins.S3BucketOrigin.with_origin_access_control(self.site_bucket),
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                response_headers_policy=self.headers,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
            ),
            additional_behaviors={
                f"/{constants.API_STAGE_NAME}/*": cloudfront.BehaviorOptions(
                    origin=origins.HttpOrigin(
                        api_domain, protocol_policy=cloudfront.OriginProtocolPolicy.HTTPS_ONLY
                    ),
                    viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
                    allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL,
                    cache_policy=self.api_cache_policy,
                    # Every other header and the query string, but not Host, which must name the API, not
                    # the distribution.
                    origin_request_policy=cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
                    response_headers_policy=self.headers,
                )
            },
        )
        self.url = f"https://{self.distribution.distribution_domain_name}"
        # Browser uploads post straight to S3 (a presigned POST): only from the console's origin.
        uploads_bucket.add_cors_rule(
            allowed_methods=[s3.HttpMethods.POST],
            allowed_origins=[self.url],
            allowed_headers=["*"],
            max_age=3000,
        )
        self.deployment = s3_deployment.BucketDeployment(
            self,
            "Files",
            destination_bucket=self.site_bucket,
            sources=[
                s3_deployment.Source.asset(str(CONSOLE_DIR)),
                s3_deployment.Source.json_data(
                    CONFIG_FILE,
                    {
                        "api_base": f"/{constants.API_STAGE_NAME}/",
                        "auth": {
                            "mode": "cognito",
                            "region": region,
                            "client_id": self.client.user_pool_client_id,
                        },
                    },
                ),
            ],
            cache_control=[s3_deployment.CacheControl.max_age(FILE_CACHE)],
            distribution=self.distribution,
            distribution_paths=["/*"],
            prune=True,
            # An explicit log group: retention without the LogRetention custom resource.
            log_group=logs.LogGroup(self, "FilesLogGroup", retention=constants.FUNCTION_LOG_RETENTION),
        )
        self._acknowledge_nag_findings()

    def _acknowledge_nag_findings(self) -> None:
        findings = {
            "AwsSolutions-COG2": (
                "MFA is optional (TOTP) rather than required: operators are invited by an administrator, who "
                "can require it per user; a required second factor would block the first sign-in of a pool "
                "without a verified channel."
            ),
            "AwsSolutions-COG8": (
                "The user pool stays on the Essentials feature plan: Plus (threat protection) is billed per "
                "active user; operator accounts are invited only, with a strong password policy."
            ),
            "AwsSolutions-COG3": (
                "Cognito's threat protection (advanced security) is a paid feature plan; operator accounts "
                "are invited only, with a strong password policy and optional TOTP."
            ),
            "AwsSolutions-CFR1": (
                "Operators work from wherever they are; the console's files are public static code and every "
                "data call needs a Cognito sign-in, so no geo restriction."
            ),
            "AwsSolutions-CFR2": (
                "No WAF on the console's distribution by default (a monthly fee per web ACL): its files are "
                "static and the API behind /prod/ has its own throttling and optional WAF."
            ),
            "AwsSolutions-CFR3": (
                "CloudFront standard logs need an ACL-enabled bucket; API Gateway's access logs already "
                "record every API call the console makes, and the static files carry no data."
            ),
            "AwsSolutions-CFR4": (
                "The distribution uses CloudFront's default certificate (*.cloudfront.net), which does not allow "
                "choosing the viewer TLS policy; a deployment with its own domain sets TLSv1.2_2021."
            ),
            "AwsSolutions-CFR7": (
                "The S3 origin uses origin access control (S3BucketOrigin.with_origin_access_control); cdk-nag "
                "only recognises the legacy origin access identity."
            ),
        }
        for finding, reason in findings.items():
            Validations.of(self).acknowledge(Acknowledgment(id=finding, reason=reason))
        site_objects = Stack.of(self).resolve(self.site_bucket.bucket_arn)["Fn::GetAtt"][0]
        handler_findings = {
            **BUCKET_DEPLOYMENT_NAG_REASONS,
            "AwsSolutions-IAM5[Resource::*]": (
                "BucketDeployment invalidates the console's distribution after copying the files "
                "(cloudfront:CreateInvalidation/GetInvalidation), which CDK grants on every distribution."
            ),
            f"AwsSolutions-IAM5[Resource::<{site_objects}.Arn>/*]": (
                "BucketDeployment replaces the console's files: read, write and delete (prune) on every "
                "object of the console's own bucket, which holds nothing else."
            ),
        }
        asset_bucket = bootstrap_asset_bucket_in_nag(self)
        handler_findings[f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::{asset_bucket}/*]"] = (
            "BucketDeployment reads the console's zip from the CDK bootstrap asset bucket, whose object keys "
            "are content hashes known only at publish time."
        )
        # CDK makes one handler per memory size: acknowledge on each, whichever this deployment uses.
        for handler in Stack.of(self).node.children:
            if handler.node.id.startswith("Custom::CDKBucketDeployment"):
                for finding, reason in handler_findings.items():
                    Validations.of(handler).acknowledge(Acknowledgment(id=finding, reason=reason))
