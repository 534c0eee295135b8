"""Serving the models must never pull torch, the Hugging Face stack or the AWS SDK into a Lambda."""

import json
import subprocess
import sys

from infra.paths import REPO_ROOT

SERVE_EVERY_MODEL = """
import json, sys
from pathlib import Path
from creative.inference.artifacts import Manifest
from creative.inference.generator import Generator
from creative.inference.image_model import ImageModel
from creative.inference.text_encoder import TextEncoder
from creative.tagging.taggers import Taggers
from PIL import Image

models = Path(sys.argv[1])
manifest = Manifest.read(models / "manifest.json")
encoder = TextEncoder(models / manifest.get("text-encoder").prefix)
image_model = ImageModel(models / manifest.get("image-model").prefix)
generator = Generator.load(models / manifest.get("generator").prefix, threads=1)
vector = encoder.encode(["Summer sale on running shoes"])
prediction = image_model.predict([Image.new("RGB", (320, 240), (200, 40, 40))])[0]
answer = generator.generate([{"role": "user", "content": "A slogan for tea."}], max_tokens=4)
taggers = Taggers(
    *(models / manifest.get(name).prefix for name in ("tagger", "text-encoder-int8", "image-model")),
    max_pixels=40_000_000,
)
copy_tags = taggers.tag_copy(["Free delivery on every order"])[0].tags
heavy = [
    name
    for name in ("torch", "transformers", "sentence_transformers", "boto3", "botocore")
    if name in sys.modules
]
print(json.dumps({
    "dims": [vector.shape[1], prediction.embedding.shape[0]],
    "generated": 1 <= len(answer.token_ids) <= 4,
    "tagged": bool(copy_tags),
    "heavy": heavy,
}))
"""


def test_serving_the_models_imports_no_torch(manifest):
    # Given a fresh interpreter
    # When it loads and runs every model (the taggers included) through the serving code
    completed = subprocess.run(
        [sys.executable, "-c", SERVE_EVERY_MODEL, str(REPO_ROOT / "build" / "models")],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO_ROOT,
    )

    # Then every model ran and none of torch, transformers, sentence_transformers or the AWS SDK was imported
    assert completed.returncode == 0, completed.stderr
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    assert result == {"dims": [384, 1280], "generated": True, "tagged": True, "heavy": []}
