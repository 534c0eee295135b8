"""Image facts an operator filters on: dominant colours, brightness and orientation, on drawn images."""

import pytest
from creative.tagging.image_facts import PALETTE, facts
from PIL import Image


@pytest.mark.parametrize("name", list(PALETTE))
def test_a_solid_image_of_a_palette_colour_is_named_that_colour_alone(name):
    # Given an image filled with the palette's own value for a colour
    image = Image.new("RGB", (300, 200), PALETTE[name])

    # When its facts are read
    found = facts(image)

    # Then that colour covers the whole image and nothing else is named
    assert found.colours == [(name, 1.0)]


def test_colours_are_ranked_by_share_and_small_ones_are_left_out():
    # Given an image that is 60% blue, 30% yellow and 10% red (side by side, as columns)
    image = Image.new("RGB", (640, 320), PALETTE["blue"])
    image.paste(PALETTE["yellow"], (384, 0, 576, 320))
    image.paste(PALETTE["red"], (576, 0, 640, 320))

    # When its facts are read
    found = facts(image)

    # Then blue comes first, yellow second, and red (under the 15% a dominant colour needs) is not named
    assert [name for name, _ in found.colours] == ["blue", "yellow"]
    assert found.colours[0][1] == pytest.approx(0.6, abs=0.03)
    assert found.colours[1][1] == pytest.approx(0.3, abs=0.03)


def test_brightness_and_orientation_follow_the_pixels_and_the_shape():
    # Given a dark portrait image and a bright square one
    dark_portrait = Image.new("RGB", (200, 400), (30, 30, 30))
    bright_square = Image.new("RGB", (300, 310), (235, 235, 235))

    # When their facts are read
    dark, bright = facts(dark_portrait), facts(bright_square)

    # Then each is described as it looks
    assert (dark.brightness, dark.orientation) == ("dark", "portrait")
    assert (bright.brightness, bright.orientation) == ("bright", "square")
    assert dark.mean_luma == pytest.approx(30 / 255, abs=0.002)
    assert facts(Image.new("RGB", (400, 200), (128, 128, 128))).orientation == "landscape"
