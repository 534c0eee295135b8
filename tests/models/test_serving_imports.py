"""Serving the models must never pull torch, the Hugging Face stack or the AWS SDK into a Lambda."""

import json
import subprocess
import sys

from infra.paths import REPO_ROOT

SERVE_BOTH_MODELS = """
import json, sys
from pathlib import Path
from creative.inference.artifacts import Manifest
from creative.inference.generator import Generator
from creative.inference.image_model import ImageModel
from creative.inference.text_encoder import TextEncoder
from PIL import Image

models = Path(sys.argv[1])
manifest = Manifest.read(models / "manifest.json")
encoder = TextEncoder(models / manifest.get("text-encoder").prefix)
image_model = ImageModel(models / manifest.get("image-model").prefix)
generator = Generator.load(models / manifest.get("generator").prefix, threads=1)
vector = encoder.encode(["Summer sale on running shoes"])
prediction = image_model.predict([Image.new("RGB", (320, 240), (200, 40, 40))])[0]
answer = generator.generate([{"role": "user", "content": "A slogan for tea."}], max_tokens=4)
heavy = [
    name
    for name in ("torch", "transformers", "sentence_transformers", "boto3", "botocore")
    if name in sys.modules
]
print(json.dumps({
    "dims": [vector.shape[1], prediction.embedding.shape[0]],
    "generated": 1 <= len(answer.token_ids) <= 4,
    "heavy": heavy,
}))
"""


def test_serving_the_models_imports_no_torch(manifest):
    # Given a fresh interpreter
    # When it loads and runs all three models through the serving code
    completed = subprocess.run(
        [sys.executable, "-c", SERVE_BOTH_MODELS, str(REPO_ROOT / "build" / "models")],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO_ROOT,
    )

    # Then every model ran and none of torch, transformers, sentence_transformers or the AWS SDK was imported
    assert completed.returncode == 0, completed.stderr
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    assert result == {"dims": [384, 1280], "generated": True, "heavy": []}
