"""Image data: CIFAR-10 batches, class folders and their archives decode to the same tensor; sampling in [-1, 1]."""

import hashlib
import os
import pickle
import shutil
import tarfile
import urllib.request
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from wgan_teach import data
from wgan_teach.data import ImageData, cifar10_cache, download_cifar10, find_cifar10, load_images, to_images

SHARED_TEST = Path(__file__).resolve().parents[2] / "shared/data/cifar10-jpeg/test.tar.xz"
META_NAMES = [b"zebra", b"apple", b"mango"]  # not sorted: the order of batches.meta must be kept
TRAIN_SIZES = (3, 2, 4, 1, 2)  # images in data_batch_1 .. data_batch_5
TEST_SIZE = 4


def random_images(n, size=32, seed=0):
    """n random uint8 images, N x 3 x size x size."""
    return torch.from_numpy(np.random.default_rng(seed).integers(0, 256, (n, 3, size, size), dtype=np.uint8))


# ---------------------------------------------------------------------------------------------
# CIFAR-10 python batches


def write_batch(path, images, labels, protocol=2):
    """One batch as the official files hold it: rows of 3072 channel-major bytes, labels a list."""
    batch = {b"batch_label": b"fake", b"labels": labels, b"data": images.reshape(len(images), -1).numpy()}
    path.write_bytes(pickle.dumps(batch, protocol=protocol))


@pytest.fixture
def cifar(tmp_path):
    """A fake cifar-10-batches-py folder; returns (folder, {split: (images, labels)})."""
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    train_images, train_labels = [], []
    for i, n in enumerate(TRAIN_SIZES, start=1):
        images = random_images(n, seed=i)
        labels = [(i + k) % 3 for k in range(n)]
        write_batch(folder / f"data_batch_{i}", images, labels)
        train_images.append(images)
        train_labels += labels
    test_images, test_labels = random_images(TEST_SIZE, seed=99), [2, 1, 0, 2]
    write_batch(folder / "test_batch", test_images, test_labels)
    meta = {b"label_names": META_NAMES, b"num_cases_per_batch": 3, b"num_vis": 3072}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2))
    (folder / "readme.html").write_text("<html>not data</html>")
    expected = {
        "train": (torch.cat(train_images), torch.tensor(train_labels)),
        "test": (test_images, torch.tensor(test_labels)),
    }
    return folder, expected


def test_cifar_batches_folder_round_trips_pixels_labels_and_classes(cifar):
    folder, expected = cifar
    for split in ("train", "test"):
        images, labels, classes = load_images(folder, split=split)
        want_images, want_labels = expected[split]
        assert images.dtype == torch.uint8 and images.shape == (len(want_images), 3, 32, 32)
        assert torch.equal(images, want_images)
        assert labels.dtype == torch.int64 and torch.equal(labels, want_labels)
        assert classes == ["zebra", "apple", "mango"]
    assert len(load_images(folder)[0]) == sum(TRAIN_SIZES)  # train is the default split


def test_cifar_rows_are_channel_major_rgb(cifar):
    folder, _ = cifar
    row = pickle.loads((folder / "data_batch_1").read_bytes(), encoding="bytes")[b"data"][0]
    image = load_images(folder)[0][0]
    for channel in range(3):  # 1024 red values, then 1024 green, then 1024 blue, each row by row
        assert np.array_equal(image[channel].numpy(), row[channel * 1024 : (channel + 1) * 1024].reshape(32, 32))


def test_cifar_tar_gz_and_parent_folder_give_the_same_tensors(cifar, tmp_path):
    folder, _ = cifar
    archive = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname="cifar-10-batches-py")
    for split in ("train", "test"):
        want = load_images(folder, split=split)
        for source in (archive, str(archive), tmp_path):  # the archive, as a str, the folder above
            got = load_images(source, split=split)
            assert torch.equal(got[0], want[0]) and torch.equal(got[1], want[1]) and got[2] == want[2]


def test_cifar_batches_in_newest_pickle_protocol_load(cifar):
    folder, expected = cifar
    images, labels = expected["test"]
    write_batch(folder / "test_batch", images, labels.tolist(), protocol=pickle.HIGHEST_PROTOCOL)
    assert torch.equal(load_images(folder, split="test")[0], images)


class RunsCode:
    def __reduce__(self):
        return (os.getcwd, ())


def test_cifar_batch_that_would_run_code_is_refused(cifar):
    folder, _ = cifar
    (folder / "test_batch").write_bytes(pickle.dumps({b"data": RunsCode(), b"labels": []}))
    with pytest.raises(ValueError, match=r"test_batch.*refusing to load \w+\.getcwd"):
        load_images(folder, split="test")


def test_cifar_corrupt_or_missing_batch_is_named(cifar):
    folder, _ = cifar
    (folder / "data_batch_3").write_bytes(b"\x00not a pickle")
    with pytest.raises(ValueError, match="data_batch_3"):
        load_images(folder)
    (folder / "data_batch_3").write_bytes(pickle.dumps({b"data": np.zeros((1, 3072), np.uint8)}, protocol=2))
    with pytest.raises(ValueError, match=r"'data_batch_3' .* lacks the keys \[b'labels'\]"):
        load_images(folder)
    (folder / "data_batch_3").unlink()
    with pytest.raises(ValueError, match=r"lack \['data_batch_3'\]"):
        load_images(folder)
    assert len(load_images(folder, split="test")[0]) == TEST_SIZE  # the test split needs no train batch


def test_cifar_other_size_needs_resize(cifar):
    folder, expected = cifar
    with pytest.raises(ValueError, match=r"32x32, expected 16x16.*resize=True"):
        load_images(folder, split="test", size=16)
    images = load_images(folder, split="test", size=16, resize=True)[0]
    first = Image.fromarray(expected["test"][0][0].permute(1, 2, 0).numpy()).resize((16, 16), Image.Resampling.BICUBIC)
    assert images.shape == (TEST_SIZE, 3, 16, 16)
    assert np.array_equal(images[0].permute(1, 2, 0).numpy(), np.asarray(first))


# ---------------------------------------------------------------------------------------------
# Class folders of images and their archives

CLASSES = ["bird", "cat", "dog"]
FILES = {"bird": ["b.png", "a.png", "10.png"], "cat": ["x.png"], "dog": ["2.png", "1.png"]}


def write_png(path, image):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image.permute(1, 2, 0).numpy()).save(path)


@pytest.fixture
def tree(tmp_path):
    """root/<class>/<file>.png with clutter to skip; returns (root, images sorted by (class, file), labels)."""
    root = tmp_path / "tree"
    expected, labels = [], []
    for label, cls in enumerate(CLASSES):
        for k, name in enumerate(FILES[cls]):
            image = random_images(1, seed=10 * label + k)[0]
            write_png(root / cls / name, image)
            expected.append((cls, name, image, label))
        (root / cls / "README.txt").write_text("not an image")
        write_png(root / cls / ".hidden.png", random_images(1, size=8)[0])
    (root / ".DS_Store").write_bytes(b"\x00\x01garbage")
    write_png(root / ".ipynb_checkpoints" / "x.png", random_images(1, size=8)[0])
    write_png(root / "loose.png", random_images(1, size=8)[0])  # not in a class folder: skipped
    expected.sort(key=lambda item: (item[0], item[1]))
    return root, torch.stack([item[2] for item in expected]), torch.tensor([item[3] for item in expected])


def pack(root, dest, top=None):
    """Pack every file under root into archive dest (kind by suffix), under folder top if given, in reverse order."""
    files = sorted((p for p in root.rglob("*") if p.is_file()), reverse=True)
    names = [(p, "/".join(filter(None, [top, p.relative_to(root).as_posix()]))) for p in files]
    if dest.suffix == ".zip":
        with zipfile.ZipFile(dest, "w") as archive:
            for path, name in names:
                archive.write(path, name)
    else:
        mode = {".tar": "w", ".gz": "w:gz", ".tgz": "w:gz", ".xz": "w:xz"}[dest.suffix]
        with tarfile.open(dest, mode) as archive:
            for path, name in names:
                archive.add(path, name)
    return dest


FORMS = ["folder", "x.zip", "x.tar", "x.tar.gz", "x.tgz", "x.tar.xz"]


@pytest.mark.parametrize("top", [None, "train"])
@pytest.mark.parametrize("form", FORMS)
def test_every_form_gives_the_same_exact_tensors(tree, tmp_path, form, top):
    root, want_images, want_labels = tree
    if form == "folder":
        source = tmp_path / "wrapped" if top else root
        if top:
            shutil.copytree(root, source / top)
    else:
        source = pack(root, tmp_path / form, top)
    images, labels, classes = load_images(source)
    assert classes == CLASSES
    assert images.dtype == torch.uint8 and images.shape == (6, 3, 32, 32) and images.is_contiguous()
    assert torch.equal(images, want_images) and torch.equal(labels, want_labels)


@pytest.mark.parametrize("form", ["folder", "x.zip", "x.tar.xz"])
def test_split_folder_is_chosen(tree, tmp_path, form):
    root, want_images, _ = tree
    both = tmp_path / "both"
    shutil.copytree(root, both / "train")
    write_png(both / "test" / "frog" / "0001.png", random_images(1, seed=7)[0])
    source = both if form == "folder" else pack(both, tmp_path / form)
    images, labels, classes = load_images(source, split="test")
    assert classes == ["frog"] and labels.tolist() == [0] and torch.equal(images[0], random_images(1, seed=7)[0])
    assert torch.equal(load_images(source, split="train")[0], want_images)


def test_archive_with_only_the_other_split_says_so(tree, tmp_path):
    archive = pack(tree[0], tmp_path / "test.tar.xz", top="test")
    assert len(load_images(archive, split="test")[0]) == 6
    with pytest.raises(ValueError, match="no images for split 'train'.*pass split='test'"):
        load_images(archive)


def test_jpeg_decodes_close_to_the_original(tmp_path):
    ramp = np.linspace(0, 255, 32, dtype=np.float64)
    smooth = np.stack([ramp[None, :].repeat(32, 0), ramp[:, None].repeat(32, 1), 255 - ramp[None, :].repeat(32, 0)], -1)
    smooth = smooth.astype(np.uint8)
    for name in ("cat/a.jpg", "cat/b.JPEG"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        Image.fromarray(smooth).save(tmp_path / name, format="JPEG", quality=95)
    images, labels, classes = load_images(tmp_path)
    assert images.shape == (2, 3, 32, 32) and classes == ["cat"] and labels.tolist() == [0, 0]
    error = (images.double() - torch.from_numpy(smooth).permute(2, 0, 1).double()).abs()
    assert error.mean() < 2 and error.max() < 20


def test_grey_and_rgba_images_become_rgb(tmp_path):
    (tmp_path / "a").mkdir()
    grey = np.arange(32 * 32, dtype=np.uint32).reshape(32, 32).__mod__(256).astype(np.uint8)
    Image.fromarray(grey, mode="L").save(tmp_path / "a" / "grey.png")
    rgba = np.dstack([grey, 255 - grey, grey // 2, np.full_like(grey, 7)])
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "a" / "rgba.png")
    images = load_images(tmp_path)[0]
    assert all(torch.equal(images[0, c], torch.from_numpy(grey)) for c in range(3))
    assert torch.equal(images[1], torch.from_numpy(rgba[..., :3]).permute(2, 0, 1))


# ---------------------------------------------------------------------------------------------
# Errors


def test_missing_path(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"source '.*nowhere' does not exist"):
        load_images(tmp_path / "nowhere")


def test_empty_sources(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "clutter" / "cat").mkdir(parents=True)
    (tmp_path / "clutter" / "cat" / "README").write_text("no images here")
    with zipfile.ZipFile(tmp_path / "empty.zip", "w") as archive:
        archive.writestr("cat/notes.txt", "no images here")
    for source in ("empty", "clutter", "empty.zip"):
        with pytest.raises(ValueError, match="no images for split 'train'"):
            load_images(tmp_path / source)


def test_corrupt_image_is_named(tree, tmp_path):
    root = tree[0]
    (root / "cat" / "x.png").write_bytes(b"garbage, not a PNG")
    with pytest.raises(ValueError, match=r"cannot decode image 'cat/x\.png'"):
        load_images(root)
    truncated = (root / "dog" / "1.png").read_bytes()[:-40]
    (root / "cat" / "x.png").write_bytes(truncated)
    with pytest.raises(ValueError, match=r"cannot decode image 'train/cat/x\.png'"):
        load_images(pack(root, tmp_path / "x.zip", top="train"))


def test_wrong_size_needs_resize(tmp_path):
    small = random_images(2, size=16, seed=3)
    for k, image in enumerate(small):
        write_png(tmp_path / "cat" / f"{k}.png", image)
    with pytest.raises(ValueError, match=r"'cat/0\.png'.* is 16x16, expected 32x32.*resize=True"):
        load_images(tmp_path)
    images = load_images(tmp_path, resize=True)[0]
    want = Image.fromarray(small[1].permute(1, 2, 0).numpy()).resize((32, 32), Image.Resampling.BICUBIC)
    assert images.shape == (2, 3, 32, 32)
    assert np.array_equal(images[1].permute(1, 2, 0).numpy(), np.asarray(want))
    assert torch.equal(load_images(tmp_path, size=16)[0], small)


def test_unknown_kinds_of_source(tmp_path):
    for name in ("data.rar", "notes.txt", "image.png"):
        (tmp_path / name).write_bytes(b"something")
        with pytest.raises(ValueError, match=r"not a known kind of source.*\.zip, \.tar, \.tar\.gz, \.tgz, \.tar\.xz"):
            load_images(tmp_path / name)


def test_corrupt_archive(tmp_path):
    for name in ("bad.tar.xz", "bad.tar.gz", "bad.zip", "bad.tar"):
        (tmp_path / name).write_bytes(b"this is no archive" * 50)
        with pytest.raises(ValueError, match="cannot read archive.*" + name.replace(".", r"\.")):
            load_images(tmp_path / name)


def test_bad_split_and_size(tree):
    root = tree[0]
    with pytest.raises(ValueError, match=r"split must be one of \('train', 'test'\), got 'valid'"):
        load_images(root, split="valid")
    for size in (0, -32, 32.0, True, "32"):
        with pytest.raises(ValueError, match="size must be a positive int"):
            load_images(root, size=size)


# ---------------------------------------------------------------------------------------------
# ImageData


def asymmetric_image():
    """One image whose left-right mirror differs from it."""
    return torch.arange(3 * 4 * 5, dtype=torch.uint8).reshape(1, 3, 4, 5)


def test_sample_shape_range_and_determinism():
    images = random_images(10, size=8)
    dataset = ImageData(images, torch.arange(10), ["a"] * 10)
    batch = dataset.sample(64, torch.Generator().manual_seed(1))
    assert batch.shape == (64, 3, 8, 8) and batch.dtype == torch.float32
    assert batch.min() >= -1 and batch.max() <= 1
    assert torch.equal(batch, dataset.sample(64, torch.Generator().manual_seed(1)))
    assert not torch.equal(batch, dataset.sample(64, torch.Generator().manual_seed(2)))
    assert len(dataset) == 10 and dataset.labels.dtype == torch.int64 and dataset.classes == ["a"] * 10


def test_sample_draws_indices_then_flips_from_the_generator():
    images = random_images(10, size=8)
    batch = ImageData(images).sample(32, torch.Generator().manual_seed(5))
    rng = torch.Generator().manual_seed(5)
    index = torch.randint(10, (32,), generator=rng)
    flip = torch.rand(32, generator=rng) < 0.5
    x = images[index].float() / 127.5 - 1
    assert torch.equal(batch, torch.where(flip[:, None, None, None], x.flip(-1), x))


def test_flips_happen_about_half_the_time_and_never_when_off():
    image = asymmetric_image()
    x = image.float() / 127.5 - 1
    batch = ImageData(image).sample(400, torch.Generator().manual_seed(0))
    plain = (batch == x).flatten(1).all(1)
    mirrored = (batch == x.flip(-1)).flatten(1).all(1)
    assert torch.all(plain ^ mirrored)  # every sample is the image or its mirror, never both
    assert 0.4 < mirrored.float().mean() < 0.6
    unflipped = ImageData(image, flip=False).sample(400, torch.Generator().manual_seed(0))
    assert torch.equal(unflipped, x.expand(400, -1, -1, -1))


def test_to_images_inverts_the_mapping_exactly():
    every_value = torch.arange(256, dtype=torch.uint8).reshape(1, 1, 16, 16).repeat(1, 3, 1, 1)
    batch = ImageData(every_value, flip=False).sample(3, torch.Generator().manual_seed(0))
    assert torch.equal(to_images(batch), every_value.expand(3, -1, -1, -1))
    assert to_images(torch.tensor([-3.0, -1.0, 0.0, 1.0, 7.0])).tolist() == [0, 0, 128, 255, 255]


def test_image_data_from_loaded_source(tree):
    root, want_images, want_labels = tree
    dataset = ImageData(*load_images(root, progress=True))
    assert torch.equal(dataset.images, want_images) and torch.equal(dataset.labels, want_labels)
    assert dataset.classes == CLASSES and dataset.images.device == torch.device("cpu")


def test_image_data_validates_its_arguments():
    with pytest.raises(TypeError, match="images must be a uint8 torch.Tensor, got list"):
        ImageData([[0]])
    with pytest.raises(TypeError, match="images must be a uint8 torch.Tensor, got tensor of dtype torch.float32"):
        ImageData(torch.zeros(2, 3, 4, 4))
    for shape in ((3, 4, 4), (0, 3, 4, 4), (2, 1, 4, 4)):
        with pytest.raises(ValueError, match=r"images must have shape N x 3 x H x W with N >= 1"):
            ImageData(torch.zeros(shape, dtype=torch.uint8))
    with pytest.raises(ValueError, match=r"labels must have shape \(2,\)"):
        ImageData(torch.zeros(2, 3, 4, 4, dtype=torch.uint8), torch.zeros(3))


# ---------------------------------------------------------------------------------------------
# download_cifar10, without the network


@pytest.fixture
def fake_archive(tmp_path):
    """A local stand-in for the archive; returns (path, its MD5)."""
    path = tmp_path / "served.tar.gz"
    path.write_bytes(b"pretend this is CIFAR-10" * 100)
    return path, hashlib.md5(path.read_bytes()).hexdigest()


def serve(monkeypatch, source, calls):
    """Make urllib.request.urlretrieve copy source instead of downloading."""

    def urlretrieve(url, filename):
        calls.append(url)
        shutil.copyfile(source, filename)

    monkeypatch.setattr(urllib.request, "urlretrieve", urlretrieve)


def test_download_checks_the_md5_and_keeps_no_partial_file(tmp_path, fake_archive, monkeypatch):
    source, md5 = fake_archive
    calls = []
    serve(monkeypatch, source, calls)
    root = tmp_path / "data"
    path = download_cifar10(root, md5=md5)
    assert path == root / "cifar-10-python.tar.gz" and path.read_bytes() == source.read_bytes()
    assert calls == ["https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"]
    assert data.CIFAR10_MD5 == "c58f30108f718f92721af3b95e74349a"
    assert sorted(p.name for p in root.iterdir()) == ["cifar-10-python.tar.gz"]
    assert download_cifar10(root, md5=md5) == path and len(calls) == 1  # present and right: no download


def test_download_with_wrong_md5_is_deleted(tmp_path, fake_archive, monkeypatch):
    source, md5 = fake_archive
    serve(monkeypatch, source, [])
    root = tmp_path / "data"
    with pytest.raises(ValueError, match=f"MD5 .* is {md5}, expected {'0' * 32}; it was deleted"):
        download_cifar10(root, md5="0" * 32)
    assert list(root.iterdir()) == []


def test_download_replaces_a_bad_file(tmp_path, fake_archive, monkeypatch):
    source, md5 = fake_archive
    calls = []
    serve(monkeypatch, source, calls)
    (tmp_path / "cifar-10-python.tar.gz").write_bytes(b"half a download")
    path = download_cifar10(tmp_path, url="https://mirror.example/cifar.tgz", md5=md5)
    assert path.read_bytes() == source.read_bytes() and calls == ["https://mirror.example/cifar.tgz"]


# ---------------------------------------------------------------------------------------------
# The shared JPEG copy of CIFAR-10's test set


def test_shared_cifar10_jpeg_test_archive():
    if not SHARED_TEST.exists():
        pytest.skip(f"{SHARED_TEST} is absent")
    images, labels, classes = load_images(SHARED_TEST, split="test")
    assert images.shape == (10000, 3, 32, 32) and images.dtype == torch.uint8
    assert classes == ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    assert labels.bincount().tolist() == [1000] * 10
    assert 60 < images.float().mean() < 200 and images.float().std() > 30  # real pictures, not blank


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda u8: load_images(5), TypeError, "source must be a path"),
        (lambda u8: load_images(""), ValueError, "source must be a path .* got an empty string"),  # once read the cwd
        (lambda u8: ImageData(u8, device="banana"), ValueError, "device must be a device such as 'cpu' or 'cuda', got 'banana'"),
        (lambda u8: ImageData(u8, device=5.5), TypeError, "device must be a str or torch.device"),
        (lambda u8: ImageData(u8, labels=[0.5, 1.5]), TypeError, "labels must be integers"),  # once truncated to 0, 1
        (lambda u8: ImageData(u8, labels=["a", "b"]), TypeError, "labels must be integers"),
        (lambda u8: ImageData(u8, classes=5), TypeError, "classes must be a sequence of class names"),
        (lambda u8: ImageData(u8).sample(0, torch.Generator()), ValueError, "n must be a positive integer"),  # once empty
        (lambda u8: ImageData(u8).sample(2, None), TypeError, "generator must be a torch.Generator"),
        (lambda u8: to_images(torch.tensor([float("nan")])), ValueError, "x must not contain NaN"),  # once pixel 0
        (lambda u8: to_images(u8), TypeError, "x must be a floating-point tensor"),
    ],
)
def test_bad_arguments_are_named(call, error, message):
    with pytest.raises(error, match=message):
        call(torch.zeros(2, 3, 4, 4, dtype=torch.uint8))


@pytest.mark.parametrize("form", ["folder", "x.tar.xz"])
def test_per_class_keeps_the_first_images_of_each_class(tree, tmp_path, form):
    root, want_images, want_labels = tree
    source = root if form == "folder" else pack(root, tmp_path / form)
    images, labels, classes = load_images(source, per_class=2)
    first_two = torch.cat([torch.nonzero(want_labels == k).flatten()[:2] for k in range(len(CLASSES))])
    assert torch.equal(images, want_images[first_two]) and torch.equal(labels, want_labels[first_two])
    with pytest.raises(ValueError, match="per_class must be a positive integer"):
        load_images(source, per_class=0)


def test_per_class_on_cifar_batches(cifar):
    folder, _ = cifar
    images, labels, _ = load_images(folder, per_class=1)
    full_images, full_labels, _ = load_images(folder)
    keep = [int(torch.nonzero(full_labels == k).flatten()[0]) for k in sorted(set(full_labels.tolist()))]
    assert torch.equal(images, full_images[sorted(keep)]) and torch.equal(labels, full_labels[sorted(keep)])


def test_find_cifar10_looks_where_it_says(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.delenv("WGAN_TEACH_DATA", raising=False)
    assert find_cifar10(tmp_path / "nowhere") is None  # and no copy beside the package is consulted
    jpeg = tmp_path / "jpeg"
    jpeg.mkdir()
    (jpeg / "train.tar.xz").write_bytes(b"")
    (jpeg / "test.tar.xz").write_bytes(b"")
    assert find_cifar10(jpeg) == jpeg / "train.tar.xz" and find_cifar10(jpeg, split="test") == jpeg / "test.tar.xz"
    cache = tmp_path / "home" / ".cache" / "wgan_teach" / "cifar10"
    assert cifar10_cache() == cache
    cache.mkdir(parents=True)
    (cache / "cifar-10-python.tar.gz").write_bytes(b"")
    assert find_cifar10(tmp_path / "nowhere") == cache / "cifar-10-python.tar.gz"
    monkeypatch.setenv("WGAN_TEACH_DATA", str(jpeg))  # the environment variable comes before the cache
    assert find_cifar10(tmp_path / "nowhere", split="test") == jpeg / "test.tar.xz"
    assert find_cifar10(cache) == cache / "cifar-10-python.tar.gz"  # and the arguments before both
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cifar10_cache() == tmp_path / "xdg" / "wgan_teach" / "cifar10"
    with pytest.raises(ValueError, match="split must be one of"):
        find_cifar10(split="valid")
    with pytest.raises(TypeError, match="places must be folders or archives"):
        find_cifar10(None)
    with pytest.raises(ValueError, match="places must be folders or archives, got an empty string"):
        find_cifar10("")


def test_download_cifar10_puts_the_archive_where_find_cifar10_looks(tmp_path, fake_archive, monkeypatch):
    source, md5 = fake_archive
    serve(monkeypatch, source, [])
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("WGAN_TEACH_DATA", raising=False)
    path = download_cifar10(md5=md5)
    assert path == tmp_path / "xdg" / "wgan_teach" / "cifar10" / "cifar-10-python.tar.gz" == find_cifar10()
    with pytest.raises(ValueError, match="root must be a folder, got an empty string"):
        download_cifar10("", md5=md5)


def test_a_cuda_device_without_index_is_the_first_cuda_device():
    # torch.Generator(device="cuda").device has no index on some torch versions; images on cuda:0 must accept it
    from wgan_teach.data import _same_device

    assert _same_device(torch.device("cuda"), torch.device("cuda:0"))
    assert not _same_device(torch.device("cuda:1"), torch.device("cuda:0"))
    assert not _same_device(torch.device("cpu"), torch.device("cuda:0"))
