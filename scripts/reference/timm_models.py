"""timm models (models/timm/): timm.create_model(name, pretrained=False)."""

import timm

LIBRARIES = {"timm": timm.__version__}

# The timm model each script mirrors (same name, timm's default config).
TIMM = [
    # ViT (timm.models.vision_transformer)
    "vit_tiny_patch16_224", "vit_tiny_patch16_384", "vit_small_patch8_224", "vit_small_patch16_224",
    "vit_small_patch16_384", "vit_small_patch32_224", "vit_small_patch32_384", "vit_base_patch8_224",
    "vit_base_patch16_224", "vit_base_patch16_384", "vit_base_patch32_224", "vit_base_patch32_384",
    "vit_large_patch14_224", "vit_large_patch16_224", "vit_large_patch16_384", "vit_large_patch32_224",
    "vit_large_patch32_384", "vit_huge_patch14_224",
    # DeiT and DeiT III (timm.models.deit)
    "deit_tiny_patch16_224", "deit_small_patch16_224", "deit_base_patch16_224", "deit_base_patch16_384",
    "deit_tiny_distilled_patch16_224", "deit_small_distilled_patch16_224",
    "deit_base_distilled_patch16_224", "deit_base_distilled_patch16_384",
    "deit3_small_patch16_224", "deit3_small_patch16_384", "deit3_medium_patch16_224",
    "deit3_base_patch16_224", "deit3_base_patch16_384", "deit3_large_patch16_224",
    "deit3_large_patch16_384", "deit3_huge_patch14_224",
    # ResNet, ResNeXt, Wide ResNet and DenseNet (timm.models.resnet, densenet): torchvision's module trees
    "resnet18", "resnet26", "resnet34", "resnet50", "resnet101", "resnet152", "resnet200", "resnext50_32x4d",
    "resnext101_32x4d", "resnext101_32x8d", "resnext101_64x4d", "wide_resnet50_2", "wide_resnet101_2",
    "densenet121", "densenet161", "densenet169", "densenet201",
    # BEiT and BEiT v2 (timm.models.beit)
    "beit_base_patch16_224", "beit_base_patch16_384", "beit_large_patch16_224", "beit_large_patch16_384",
    "beit_large_patch16_512", "beitv2_base_patch16_224", "beitv2_large_patch16_224",
    # ConvNeXt (timm.models.convnext)
    "convnext_atto", "convnext_femto", "convnext_pico", "convnext_nano", "convnext_tiny", "convnext_small",
    "convnext_base", "convnext_large", "convnext_xlarge",
    # LeViT (timm.models.levit; LevitDistilled)
    "levit_128s", "levit_128", "levit_192", "levit_256", "levit_384",
    # EfficientFormer (timm.models.efficientformer)
    "efficientformer_l1", "efficientformer_l3", "efficientformer_l7",
    # EfficientFormerV2 (timm.models.efficientformer_v2)
    "efficientformerv2_s0", "efficientformerv2_s1", "efficientformerv2_s2", "efficientformerv2_l",
    # MobileViT and MobileViTv2 (timm.models.mobilevit; ByobNet)
    "mobilevit_xxs", "mobilevit_xs", "mobilevit_s", "mobilevitv2_050", "mobilevitv2_075", "mobilevitv2_100",
    "mobilevitv2_125", "mobilevitv2_150", "mobilevitv2_175", "mobilevitv2_200",
    # CoAtNet (timm.models.maxxvit: MaxxVit with conv and transformer stages)
    "coatnet_pico_rw_224", "coatnet_nano_rw_224", "coatnet_0_rw_224", "coatnet_1_rw_224", "coatnet_2_rw_224",
    "coatnet_3_rw_224", "coatnet_bn_0_rw_224", "coatnet_rmlp_nano_rw_224", "coatnet_rmlp_0_rw_224",
    "coatnet_rmlp_1_rw_224", "coatnet_rmlp_1_rw2_224", "coatnet_rmlp_2_rw_224", "coatnet_rmlp_2_rw_384",
    "coatnet_rmlp_3_rw_224", "coatnet_nano_cc_224", "coatnet_0_224", "coatnet_1_224", "coatnet_2_224",
    "coatnet_3_224", "coatnet_4_224", "coatnet_5_224",
]


def models():
    return {
        f"timm/{name}": (f"timm.create_model({name!r}, pretrained=False)",
                         lambda name=name: timm.create_model(name, pretrained=False))
        for name in TIMM
    }
