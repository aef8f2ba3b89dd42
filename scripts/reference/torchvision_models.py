"""torchvision classifiers and milesial/Pytorch-UNet (models/torchvision/, models/torch_hub/)."""

import torch
import torchvision
from torch import nn
from torchvision.models.regnet import BlockParams

LIBRARIES = {"torchvision": torchvision.__version__}

# The torchvision builder each vision script mirrors (same name, defaults).
TORCHVISION = [
    "alexnet", "convnext_base", "convnext_large", "convnext_small", "convnext_tiny", "densenet121",
    "densenet161", "densenet169", "densenet201", "efficientnet_b0", "efficientnet_b1",
    "efficientnet_b2", "efficientnet_b3", "efficientnet_b4", "efficientnet_b5", "efficientnet_b6",
    "efficientnet_b7", "mobilenet_v2", "mobilenet_v3_large", "mobilenet_v3_small", "resnet101",
    "resnet152", "resnet18", "resnet34", "resnet50", "resnext101_32x8d", "resnext101_64x4d",
    "resnext50_32x4d", "squeezenet1_0", "squeezenet1_1", "swin_b", "swin_s", "swin_t", "swin_v2_b",
    "swin_v2_s", "swin_v2_t", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn",
    "vgg19", "vgg19_bn", "vit_b_16", "vit_b_32", "vit_h_14", "vit_l_16", "vit_l_32",
    "wide_resnet101_2", "wide_resnet50_2",
    # vision-zoo: the rest of torchvision's classifiers
    "regnet_x_400mf", "regnet_x_800mf", "regnet_x_1_6gf", "regnet_x_3_2gf", "regnet_x_8gf",
    "regnet_x_16gf", "regnet_x_32gf", "regnet_y_400mf", "regnet_y_800mf", "regnet_y_1_6gf",
    "regnet_y_3_2gf", "regnet_y_8gf", "regnet_y_16gf", "regnet_y_32gf", "regnet_y_128gf",
    "shufflenet_v2_x0_5", "shufflenet_v2_x1_0", "shufflenet_v2_x1_5", "shufflenet_v2_x2_0",
    "mnasnet0_5", "mnasnet0_75", "mnasnet1_0", "mnasnet1_3", "googlenet", "inception_v3",
    "efficientnet_v2_s", "efficientnet_v2_m", "efficientnet_v2_l", "maxvit_t",
]

# torchvision.models.segmentation builders, as built without weights: no
# auxiliary classifier, 21 classes, and (weights_backbone=None) no backbone
# download.
SEGMENTATION = [
    "deeplabv3_mobilenet_v3_large", "deeplabv3_resnet101", "deeplabv3_resnet50", "fcn_resnet101",
    "fcn_resnet50", "lraspp_mobilenet_v3_large",
]


# RegNet's BlockParams reads its stage widths back from tensor ops, which the
# meta device cannot do: those few scalars are computed on the CPU (the
# modules themselves are still made on the meta device).
_block_params = BlockParams.from_init_params


def _block_params_on_cpu(cls, *args, **kwargs):
    with torch.device("cpu"):
        return _block_params(*args, **kwargs)


BlockParams.from_init_params = classmethod(_block_params_on_cpu)


def unet(n_channels, n_classes):
    """milesial/Pytorch-UNet's UNet(n_channels, n_classes, bilinear=False)
    (unet/unet_model.py and unet/unet_parts.py at 21d7850): not on PyPI, so
    its module tree is restated here, attribute for attribute; only the
    names and shapes matter, so there is no forward."""

    def double_conv(cin, cout):
        m = nn.Module()
        m.double_conv = nn.Sequential(
            nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(),
            nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(),
        )
        return m

    def down(cin, cout):
        m = nn.Module()
        m.maxpool_conv = nn.Sequential(nn.MaxPool2d(2), double_conv(cin, cout))
        return m

    def up(cin, cout):
        m = nn.Module()
        m.up = nn.ConvTranspose2d(cin, cin // 2, 2, stride=2)
        m.conv = double_conv(cin, cout)
        return m

    m = nn.Module()
    m.inc = double_conv(n_channels, 64)
    m.down1, m.down2, m.down3, m.down4 = down(64, 128), down(128, 256), down(256, 512), down(512, 1024)
    m.up1, m.up2, m.up3, m.up4 = up(1024, 512), up(512, 256), up(256, 128), up(128, 64)
    m.outc = nn.Module()
    m.outc.conv = nn.Conv2d(64, n_classes, 1)
    return m



def models():
    out = {}
    for name in TORCHVISION:
        out[f"torchvision/{name}"] = (f"torchvision.models.{name}()",
                                 lambda name=name: torchvision.models.get_model(name, weights=None))
    for name in SEGMENTATION:
        out[f"torchvision/{name}"] = (f"torchvision.models.segmentation.{name}(weights_backbone=None)",
                                 lambda name=name: torchvision.models.get_model(name, weights=None,
                                                                                weights_backbone=None))
    out["torch_hub/unet"] = ("milesial/Pytorch-UNet UNet(3, 2) (module tree restated)", lambda: unet(3, 2))
    return out
