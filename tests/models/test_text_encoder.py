"""The ONNX text encoder against sentence-transformers' embeddings, computed at build time from the wheel."""

import numpy as np
import pytest
from creative.inference.text_encoder import TextEncoder


@pytest.fixture(scope="module")
def encoder(text_encoder_dir) -> TextEncoder:
    return TextEncoder(text_encoder_dir)


@pytest.fixture(scope="module")
def reference(text_encoder_dir) -> dict[str, np.ndarray]:
    with np.load(text_encoder_dir / "reference.npz") as stored:
        return dict(stored)


def test_embeddings_match_sentence_transformers(encoder, reference):
    # Given ad-copy lines and sentence-transformers' normalised embeddings of them, two past 256 tokens
    texts = [str(text) for text in reference["texts"]]
    assert (reference["untruncated_token_counts"] > 256).sum() >= 2

    # When the ONNX encoder embeds them in one batch
    embeddings = encoder.encode(texts)

    # Then every embedding points the same way (cosine ≥ 0.9999) and has unit length
    cosines = (embeddings * reference["embeddings"]).sum(axis=1)
    assert embeddings.shape == (len(texts), 384)
    assert embeddings.dtype == np.float32
    assert cosines.min() >= 0.9999, cosines
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0, atol=1e-5)


def test_padding_does_not_change_an_embedding(encoder, reference):
    # Given short and long lines
    texts = [str(text) for text in reference["texts"]]

    # When each is embedded alone and all are embedded in mixed batches of 7
    alone = np.concatenate([encoder.encode([text]) for text in texts])
    batched = encoder.encode(texts, batch_size=7)

    # Then the results agree: padding tokens are masked out of the pooled mean
    assert (alone * batched).sum(axis=1).min() >= 0.99999


def test_lines_are_truncated_at_256_tokens_and_batches_padded_to_the_longest(encoder, reference):
    # Given a line of more than 256 tokens and two short ones
    long_text = str(reference["texts"][int(np.argmax(reference["untruncated_token_counts"]))])
    short = ["Free delivery.", "Summer sale on every running shoe."]

    # When they are tokenized together, and the short ones alone
    together = encoder.tokenize([long_text, *short])
    alone = encoder.tokenize(short)

    # Then the long line stops at 256 with [SEP], and padding reaches only the batch's longest line
    assert together["input_ids"].shape == (3, 256)
    assert together["input_ids"][0, -1] == 102  # [SEP]
    assert together["attention_mask"][0].sum() == 256
    assert alone["input_ids"].shape[1] == alone["attention_mask"].sum(axis=1).max() < 256


def test_text_past_the_limit_does_not_change_the_embedding(encoder, reference):
    # Given a line already past 256 tokens
    long_text = str(reference["texts"][int(np.argmax(reference["untruncated_token_counts"]))])

    # When more text is appended to it
    first, extended = encoder.encode([long_text, long_text + " Order today and save even more."])

    # Then the embedding is the same, because only the first 256 tokens are read
    assert float(first @ extended) >= 0.99999


def test_similar_copy_is_closer_than_unrelated_copy(encoder):
    # Given two lines about the same offer and one about something else
    shoes, trainers, bank = encoder.encode(
        [
            "30% off running shoes this weekend",
            "Weekend sale: trainers for runners, 30% off",
            "Open a savings account",
        ]
    )

    # Then the two shoe lines are the nearest pair
    assert float(shoes @ trainers) > float(shoes @ bank) + 0.2


def test_a_single_string_is_refused_and_no_texts_give_no_rows(encoder):
    with pytest.raises(TypeError):
        encoder.encode("one line")
    assert encoder.encode([]).shape == (0, 384)
