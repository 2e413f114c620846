"""Encoding renders for storage and the browser, decoding uploads. No torch, no Django."""

import io

import imageio.v3 as iio
import numpy as np
import pytest
from PIL import Image

from generation.media import decode_image, encode_jpeg, encode_mp4, encode_png


def frame(shade: int, size=(64, 48)) -> Image.Image:
    return Image.new("RGB", size, (shade, 255 - shade, 128))


def test_png_metadata_round_trips_through_pillow():
    metadata = {"prompt": "a lighthouse, ☃ snow", "seed": "42", "model": "tiny"}

    png = encode_png(frame(10), metadata)

    text = Image.open(io.BytesIO(png)).text
    assert {key: text[key] for key in metadata} == metadata
    assert text["parameters"] == (
        '{"model": "tiny", "prompt": "a lighthouse, ☃ snow", "seed": "42"}'
    )


def test_png_keeps_the_pixels():
    image = frame(10)

    decoded = Image.open(io.BytesIO(encode_png(image, {})))

    assert np.array_equal(np.asarray(decoded), np.asarray(image))


def test_png_refuses_non_text_values_and_the_reserved_key():
    with pytest.raises(TypeError, match="seed"):
        encode_png(frame(10), {"seed": 42})
    with pytest.raises(ValueError, match="parameters"):
        encode_png(frame(10), {"parameters": "{}"})


def test_mp4_is_an_mp4_with_every_frame():
    frames = [frame(shade) for shade in range(0, 240, 30)]

    mp4 = encode_mp4(frames, fps=8)

    assert mp4[4:8] == b"ftyp"
    assert iio.imread(mp4, extension=".mp4", index=None).shape == (8, 48, 64, 3)


def test_mp4_pads_odd_sizes_to_even_ones():
    mp4 = encode_mp4([frame(0, (33, 21)), frame(90, (33, 21))], fps=4)

    assert iio.imread(mp4, extension=".mp4", index=None).shape == (2, 22, 34, 3)


def test_mp4_refuses_frames_of_different_sizes():
    with pytest.raises(ValueError, match="same size"):
        encode_mp4([frame(0, (32, 32)), frame(0, (64, 64))], fps=8)


def test_jpeg_is_a_jpeg():
    assert Image.open(io.BytesIO(encode_jpeg(frame(10)))).format == "JPEG"


def test_decode_image_reads_an_upload():
    image = decode_image(encode_png(frame(10), {}))

    assert image.size == (64, 48)


@pytest.mark.parametrize("data", [b"", b"not a picture at all", b"\x89PNG\r\n\x1a\n" + b"\0" * 40])
def test_decode_image_refuses_garbage(data):
    with pytest.raises(ValueError, match="not an image"):
        decode_image(data)


def test_decode_image_refuses_a_truncated_file():
    png = encode_png(Image.fromarray(np.arange(64 * 64 * 3, dtype=np.uint8).reshape(64, 64, 3)), {})

    with pytest.raises(ValueError, match="not an image"):
        decode_image(png[: len(png) // 2])
