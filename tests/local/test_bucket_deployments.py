"""CDK BucketDeployments (the model artifacts) done by the local runtime, since moto cannot run them."""

from __future__ import annotations

from pathlib import Path

from local_runtime import bucket_deployments
from local_runtime.cloud_assembly import FileAsset
from local_runtime.deployed_stack import DeployedStack
from local_runtime.moto_server import MotoEndpoint

DEPLOYMENT = {
    "Type": "Custom::CDKBucketDeployment",
    "Properties": {
        "ServiceToken": {"Fn::GetAtt": ["Handler", "Arn"]},
        "SourceBucketNames": [{"Fn::Sub": "cdk-assets-${AWS::AccountId}"}],
        "SourceObjectKeys": ["abc123.zip"],
        "DestinationBucketName": {"Ref": "AssetsBucket"},
        "DestinationBucketKeyPrefix": "models/",
        "Prune": False,
    },
}


def _template() -> dict:
    return {
        "Resources": {
            "AssetsBucket": {"Type": "AWS::S3::Bucket"},
            "Handler": {"Type": "AWS::Lambda::Function", "Properties": {}},
            "ModelsDeployment": DEPLOYMENT,
        }
    }


def _asset(tmp_path: Path) -> FileAsset:
    source = tmp_path / "asset.abc123"
    (source / "text-encoder" / "v1").mkdir(parents=True)
    (source / "text-encoder" / "v1" / "model.onnx").write_bytes(b"weights")
    (source / "manifest.json").write_text('{"schema_version": 1, "artifacts": []}')
    return FileAsset(
        source=source, packaging="zip", bucket_name="cdk-assets", object_key="abc123.zip", asset_hash="abc123"
    )


def _stack(aws: MotoEndpoint) -> DeployedStack:
    aws.client("s3").create_bucket(Bucket="assets-physical")
    return DeployedStack(
        stack_name="S",
        stack_id="",
        account_id=aws.account_id(),
        region=aws.region,
        template=_template(),
        physical_ids={"AssetsBucket": "assets-physical"},
    )


def test_bucket_deployments_are_taken_out_of_what_moto_deploys() -> None:
    # Given a template with a BucketDeployment
    # When it is split for moto
    for_moto, deployments = bucket_deployments.split_off(_template())
    # Then moto gets everything but the custom resource, which the local runtime performs itself
    assert set(for_moto["Resources"]) == {"AssetsBucket", "Handler"}
    (deployment,) = deployments
    assert (deployment.logical_id, deployment.destination_prefix) == ("ModelsDeployment", "models/")
    assert deployment.source_object_keys == ("abc123.zip",)


def test_the_assets_files_land_under_the_prefix_once(aws: MotoEndpoint, tmp_path: Path) -> None:
    # Given a deployed bucket and the asset the deployment names
    stack, asset = _stack(aws), _asset(tmp_path)
    (deployment,) = bucket_deployments.split_off(_template())[1]
    s3 = aws.client("s3")
    # When the deployment is performed
    first = bucket_deployments.perform(deployment, stack, (asset,), s3)
    # Then every file is in the bucket under models/, byte for byte
    assert sorted(first.uploaded) == ["models/manifest.json", "models/text-encoder/v1/model.onnx"]
    body = s3.get_object(Bucket="assets-physical", Key="models/text-encoder/v1/model.onnx")["Body"].read()
    assert body == b"weights"
    # And performing it again uploads nothing: each object already has the same sha256
    second = bucket_deployments.perform(deployment, stack, (asset,), s3)
    assert second.uploaded == () and len(second.unchanged) == 2


def test_a_changed_file_is_uploaded_again(aws: MotoEndpoint, tmp_path: Path) -> None:
    # Given a deployment already performed
    stack, asset = _stack(aws), _asset(tmp_path)
    (deployment,) = bucket_deployments.split_off(_template())[1]
    s3 = aws.client("s3")
    bucket_deployments.perform(deployment, stack, (asset,), s3)
    # When one file's content changes (a rebuilt model) and it is performed again
    (asset.source / "text-encoder" / "v1" / "model.onnx").write_bytes(b"new weights")
    result = bucket_deployments.perform(deployment, stack, (asset,), s3)
    # Then only that file is uploaded
    assert result.uploaded == ("models/text-encoder/v1/model.onnx",)
