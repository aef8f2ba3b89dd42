"""Hugging Face diffusers UNets (models/diffusers/): UNet2DConditionModel
with each script's config (the same keys, the same values)."""

import diffusers

LIBRARIES = {"diffusers": diffusers.__version__}

# models/diffusers/unet_block.rhai: a down + mid + up path of SD's blocks
# (CrossAttnDownBlock2D, DownBlock2D, UNetMidBlock2DCrossAttn, UpBlock2D,
# CrossAttnUpBlock2D) at a small width.
UNET_BLOCK = dict(
    block_out_channels=(32, 64),
    layers_per_block=2,
    down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
    up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
    cross_attention_dim=32,
    attention_head_dim=8,
    norm_num_groups=8,
)

# models/diffusers/sd15_unet.rhai: Stable Diffusion 1.5's UNet
# (runwayml/stable-diffusion-v1-5 unet/config.json: the defaults but
# cross_attention_dim 768 and sample_size 64).
SD15_UNET = dict(cross_attention_dim=768, sample_size=64)


def models():
    from diffusers import UNet2DConditionModel

    return {
        "diffusers/unet_block": (
            f"diffusers.UNet2DConditionModel(**{UNET_BLOCK})",
            lambda: UNet2DConditionModel(**UNET_BLOCK),
        ),
        "diffusers/sd15_unet": (
            f"diffusers.UNet2DConditionModel(**{SD15_UNET}) (Stable Diffusion 1.5)",
            lambda: UNet2DConditionModel(**SD15_UNET),
        ),
    }
