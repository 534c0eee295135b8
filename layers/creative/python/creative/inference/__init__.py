"""Model serving with onnxruntime, tokenizers, Pillow and numpy only: never torch, never boto3.

`artifacts` describes and caches the model files `make models` builds; `text_encoder` and `image_model` run
them. Import the submodule you need: each loads its runtime dependencies only when used.
"""
