"""The local runtime's stand-ins for the console's AWS side: its files served with the CloudFront policy's
headers, and the CloudFront/Cognito resources taken out of what moto deploys."""

from local_runtime.api_events import HttpRequest
from local_runtime.console_site import ConsoleSite
from local_runtime.stand_ins import PLACEHOLDER, split_off


def get(site: ConsoleSite, path: str, method: str = "GET"):
    response = site.handle(HttpRequest(method, path, "", [], [], b"", "127.0.0.1", "127.0.0.1:8000"))
    return response.status, dict(response.headers), response.body


def test_the_console_is_served_with_its_config_and_security_headers(tmp_path):
    # Given a console directory with an index and a module
    (tmp_path / "index.html").write_text("<!doctype html>")
    (tmp_path / "app.js").write_text("export {}")
    site = ConsoleSite(
        tmp_path, {"api_base": "/prod/", "auth": {"mode": "key"}}, aws_endpoint="http://127.0.0.1:5000"
    )
    # Then /console redirects to /console/, which is the index
    assert get(site, "/console")[0] == 302
    status, headers, body = get(site, "/console/")
    assert status == 200 and body == b"<!doctype html>" and headers["Content-Type"] == "text/html"
    # And modules are JavaScript, config.json says where the API is and how to sign in
    assert get(site, "/console/app.js")[1]["Content-Type"] == "text/javascript"
    assert get(site, "/console/config.json")[2] == b'{"api_base": "/prod/", "auth": {"mode": "key"}}'
    # And every answer carries CloudFront's headers, the CSP allowing moto for images and uploads
    assert headers["X-Frame-Options"] == "DENY" and headers["X-Content-Type-Options"] == "nosniff"
    assert "img-src 'self' data: http://127.0.0.1:5000" in headers["Content-Security-Policy"]
    assert "script-src 'self';" in headers["Content-Security-Policy"]


def test_nothing_outside_the_console_directory_is_served(tmp_path):
    (tmp_path / "console").mkdir()
    (tmp_path / "secret.txt").write_text("no")
    site = ConsoleSite(tmp_path / "console", {}, aws_endpoint="http://127.0.0.1:5000")
    assert get(site, "/console/../secret.txt")[0] == 404
    assert get(site, "/console/%2e%2e/secret.txt")[0] == 404
    assert get(site, "/console/missing.js")[0] == 404
    assert get(site, "/console/index.html", method="POST")[0] == 405


def test_cloudfront_and_cognito_are_stood_in_for_and_references_to_them_become_visible_placeholders():
    # Given a template whose bucket's CORS names a distribution, and a method behind a user pool authorizer
    template = {
        "Resources": {
            "Dist": {"Type": "AWS::CloudFront::Distribution", "Properties": {}},
            "Pool": {"Type": "AWS::Cognito::UserPool", "Properties": {}},
            "Auth": {
                "Type": "AWS::ApiGateway::Authorizer",
                "Properties": {"ProviderARNs": [{"Fn::GetAtt": ["Pool", "Arn"]}]},
            },
            "Bucket": {
                "Type": "AWS::S3::Bucket",
                "Properties": {
                    "CorsConfiguration": {
                        "CorsRules": [
                            {
                                "AllowedOrigins": [
                                    {"Fn::Join": ["", ["https://", {"Fn::GetAtt": ["Dist", "DomainName"]}]]}
                                ]
                            }
                        ]
                    }
                },
            },
            "Method": {
                "Type": "AWS::ApiGateway::Method",
                "Properties": {"AuthorizerId": {"Ref": "Auth"}},
                "DependsOn": ["Auth", "Bucket"],
            },
        },
        "Outputs": {
            "Console": {"Value": {"Fn::Sub": ["https://${Dist.DomainName}/${P}", {"P": {"Ref": "Pool"}}]}}
        },
    }
    # When it is split for moto
    for_moto, removed = split_off(template)
    # Then moto gets neither CloudFront nor Cognito, and what named them says it is a local stand-in
    assert sorted(removed) == ["Auth", "Dist", "Pool"] and set(for_moto["Resources"]) == {"Bucket", "Method"}
    origin = for_moto["Resources"]["Bucket"]["Properties"]["CorsConfiguration"]["CorsRules"][0][
        "AllowedOrigins"
    ][0]
    assert origin == {"Fn::Join": ["", ["https://", f"{PLACEHOLDER}Dist.DomainName"]]}
    method = for_moto["Resources"]["Method"]
    assert method["Properties"]["AuthorizerId"] == f"{PLACEHOLDER}Auth" and method["DependsOn"] == ["Bucket"]
    # And an Fn::Sub keeps its text, while what its variables name is replaced all the same
    sub = for_moto["Outputs"]["Console"]["Value"]["Fn::Sub"]
    assert sub == ["https://${Dist.DomainName}/${P}", {"P": f"{PLACEHOLDER}Pool"}]
    # And the template itself is left as it was
    assert "Dist" in template["Resources"]


def test_the_local_banner_prints_the_console_url_to_sign_in_with_the_operator_key():
    from local_runtime.cli import banner

    printed = banner(
        "http://127.0.0.1:8000/prod/",
        "api-key",
        "operator-key",
        "http://127.0.0.1:5000",
        {"UploadsBucketName": "uploads"},
        console_url="http://127.0.0.1:8000/console/",
    )
    console_line = next(line for line in printed.splitlines() if "console" in line and "http" in line)
    assert "http://127.0.0.1:8000/console/" in console_line and "operator key" in console_line
    assert "operator-key" in printed
