"""Hugging Face diffusers models (models/diffusers/): UNet2DConditionModel,
AutoencoderKL (whole, or the encode / decode parts a pipeline calls) and the
pipelines' transformers CLIP text encoders, each with its script's config
(the same keys, the same values: the repos' config.json files)."""

import diffusers
import torch
import transformers

LIBRARIES = {"diffusers": diffusers.__version__, "transformers": transformers.__version__}

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

# Stable Diffusion 2.x's UNet (stabilityai/stable-diffusion-2-1 unet/config.json;
# stable-diffusion-2-1-base and sd-turbo have the same architecture at
# sample_size 64): per-level heads, linear projections, OpenCLIP-H's 1024 states.
SD21_UNET = dict(attention_head_dim=[5, 10, 20, 20], cross_attention_dim=1024, use_linear_projection=True,
                 upcast_attention=True, sample_size=96)
SD_TURBO_UNET = dict(SD21_UNET, sample_size=64)
# SDXL's UNet (stabilityai/stable-diffusion-xl-base-1.0 unet/config.json;
# sdxl-turbo: the same at sample_size 64): three levels, [1, 2, 10]
# transformer layers, text_time micro-conditioning of 1280 pooled + 6 x 256.
SDXL_UNET = dict(
    addition_embed_type="text_time",
    addition_embed_type_num_heads=64,
    addition_time_embed_dim=256,
    attention_head_dim=[5, 10, 20],
    block_out_channels=[320, 640, 1280],
    cross_attention_dim=2048,
    down_block_types=["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
    up_block_types=["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"],
    projection_class_embeddings_input_dim=2816,
    sample_size=128,
    transformer_layers_per_block=[1, 2, 10],
    use_linear_projection=True,
)
SDXL_TURBO_UNET = dict(SDXL_UNET, sample_size=64)
# SDXL's refiner (stabilityai/stable-diffusion-xl-refiner-1.0 unet/config.json;
# sgm's sd_xl_refiner.yaml: model_channels 384, channel_mult [1, 2, 4, 4],
# 64-channel heads, transformer depth 4, context 1280, adm 2560 = 1280 + 5 x 256).
SDXL_REFINER_UNET = dict(
    addition_embed_type="text_time",
    addition_embed_type_num_heads=64,
    addition_time_embed_dim=256,
    attention_head_dim=[6, 12, 24, 24],
    block_out_channels=[384, 768, 1536, 1536],
    cross_attention_dim=1280,
    down_block_types=["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
    up_block_types=["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"],
    projection_class_embeddings_input_dim=2560,
    sample_size=128,
    transformer_layers_per_block=4,
    use_linear_projection=True,
)

# UNets with extra input channels (the same weights otherwise): inpainting
# (latents + mask + masked-image latents: 9), InstructPix2Pix (latents +
# image latents: 8), SD 2 depth (latents + depth: 5).
SD15_INPAINT_UNET = dict(SD15_UNET, in_channels=9)
SD2_INPAINT_UNET = dict(SD_TURBO_UNET, in_channels=9)
SDXL_INPAINT_UNET = dict(SDXL_UNET, in_channels=9)
PIX2PIX_UNET = dict(SD15_UNET, in_channels=8)
SD2_DEPTH_UNET = dict(SD_TURBO_UNET, in_channels=5)

# Latent Consistency Models (SimianLuo/LCM_Dreamshaper_v7, latent-consistency/lcm-sdxl):
# the UNet takes the guidance scale's embedding (time_cond_proj_dim 256).
LCM_DREAMSHAPER_UNET = dict(SD15_UNET, time_cond_proj_dim=256)
LCM_SDXL_UNET = dict(SDXL_UNET, time_cond_proj_dim=256)

# ControlNets: lllyasviel/control_v11p_sd15_canny (SD 1.5's encoder half,
# cross-attention 768) and diffusers/controlnet-canny-sdxl-1.0 (SDXL's).
SD15_CONTROLNET = dict(cross_attention_dim=768)
SDXL_CONTROLNET = {k: v for k, v in SDXL_UNET.items() if k not in ("up_block_types", "sample_size")}

# The KL VAE of Stable Diffusion 1.x/2.x and SDXL (vae/config.json of
# stable-diffusion-v1-5, stable-diffusion-2-1 and stabilityai/sdxl-vae:
# one architecture; sample_size and scaling_factor are the pipeline's).
SD_VAE = dict(
    block_out_channels=[128, 256, 512, 512],
    down_block_types=["DownEncoderBlock2D"] * 4,
    up_block_types=["UpDecoderBlock2D"] * 4,
    layers_per_block=2,
    latent_channels=4,
    norm_num_groups=32,
)
SD15_VAE = dict(SD_VAE, sample_size=512)
SD21_VAE = dict(SD_VAE, sample_size=768)
SDXL_VAE = dict(SD_VAE, sample_size=1024, scaling_factor=0.13025)
# SD3 and FLUX.1: 16 latent channels, no quant_conv / post_quant_conv.
SD3_VAE = dict(SD_VAE, latent_channels=16, sample_size=1024, scaling_factor=1.5305, shift_factor=0.0609,
               use_quant_conv=False, use_post_quant_conv=False)
FLUX_VAE = dict(SD_VAE, latent_channels=16, sample_size=1024, scaling_factor=0.3611, shift_factor=0.1159,
                use_quant_conv=False, use_post_quant_conv=False)

# CLIP text encoders (text_encoder/config.json, text_encoder_2/config.json).
SD15_TEXT = dict(hidden_size=768, intermediate_size=3072, num_attention_heads=12, num_hidden_layers=12,
                 projection_dim=768, hidden_act="quick_gelu", bos_token_id=0, eos_token_id=2, pad_token_id=1)
SD21_TEXT = dict(hidden_size=1024, intermediate_size=4096, num_attention_heads=16, num_hidden_layers=23,
                 projection_dim=512, hidden_act="gelu", bos_token_id=0, eos_token_id=2, pad_token_id=1)
SDXL_TEXT = SD15_TEXT
SDXL_TEXT_2 = dict(hidden_size=1280, intermediate_size=5120, num_attention_heads=20, num_hidden_layers=32,
                   projection_dim=1280, hidden_act="gelu", bos_token_id=0, eos_token_id=2, pad_token_id=1)
# SD 3 (stabilityai/stable-diffusion-3-medium-diffusers): CLIP ViT-L/14 and
# OpenCLIP bigG/14, both with their projections; FLUX.1's CLIP: ViT-L/14.
SD3_TEXT = SD15_TEXT
SD3_TEXT_2 = SDXL_TEXT_2
FLUX_TEXT = SD15_TEXT


class VaePart(torch.nn.Module):
    """The modules a pipeline's vae.encode (encoder, quant_conv) or
    vae.decode (post_quant_conv, decoder) runs, under AutoencoderKL's names."""

    def __init__(self, vae, part):
        super().__init__()
        self.part = part
        names = ("encoder", "quant_conv") if part == "encode" else ("post_quant_conv", "decoder")
        for n in names:
            setattr(self, n, getattr(vae, n))

    def forward(self, x):
        """AutoencoderKL.encode(x).latent_dist.mode() or .decode(x).sample."""
        if self.part == "encode":
            moments = self.encoder(x)
            if self.quant_conv is not None:
                moments = self.quant_conv(moments)
            return moments.chunk(2, dim=1)[0]
        if self.post_quant_conv is not None:
            x = self.post_quant_conv(x)
        return self.decoder(x)


def vae(config, part=None):
    def make():
        m = diffusers.AutoencoderKL(**config)
        return VaePart(m, part) if part else m

    return make


def models():
    from diffusers import UNet2DConditionModel

    t = transformers
    table = {
        "diffusers/unet_block": (
            f"diffusers.UNet2DConditionModel(**{UNET_BLOCK})",
            lambda: UNet2DConditionModel(**UNET_BLOCK),
        ),
        "diffusers/sd15_unet": (
            f"diffusers.UNet2DConditionModel(**{SD15_UNET}) (Stable Diffusion 1.5)",
            lambda: UNet2DConditionModel(**SD15_UNET),
        ),
    }
    unets = [("sd21_unet", SD21_UNET, "Stable Diffusion 2.1"), ("sd_turbo_unet", SD_TURBO_UNET, "SD-Turbo"),
             ("sdxl_unet", SDXL_UNET, "SDXL base 1.0"), ("sdxl_turbo_unet", SDXL_TURBO_UNET, "SDXL-Turbo"),
             ("sdxl_refiner_unet", SDXL_REFINER_UNET, "SDXL refiner 1.0"),
             ("sd15_inpainting_unet", SD15_INPAINT_UNET, "Stable Diffusion 1.5 inpainting"),
             ("sd2_inpainting_unet", SD2_INPAINT_UNET, "Stable Diffusion 2 inpainting"),
             ("sdxl_inpainting_unet", SDXL_INPAINT_UNET, "SDXL 1.0 inpainting 0.1"),
             ("instruct_pix2pix_unet", PIX2PIX_UNET, "InstructPix2Pix"),
             ("sd2_depth_unet", SD2_DEPTH_UNET, "Stable Diffusion 2 depth"),
             ("lcm_dreamshaper_v7_unet", LCM_DREAMSHAPER_UNET, "LCM Dreamshaper v7"),
             ("lcm_sdxl_unet", LCM_SDXL_UNET, "LCM-SDXL")]
    for stem, config, what in unets:
        table[f"diffusers/{stem}"] = (f"diffusers.UNet2DConditionModel(**{config}) ({what})",
                                      lambda config=config: UNet2DConditionModel(**config))
    for stem, config, what in [("sd15_controlnet", SD15_CONTROLNET, "ControlNet v1.1 for Stable Diffusion 1.5"),
                               ("sdxl_controlnet", SDXL_CONTROLNET, "ControlNet for SDXL")]:
        table[f"diffusers/{stem}"] = (f"diffusers.ControlNetModel(**{config}) ({what})",
                                      lambda config=config: diffusers.ControlNetModel(**config))
    vaes = [("sd15_vae", SD15_VAE, "Stable Diffusion 1.5"), ("sd21_vae", SD21_VAE, "Stable Diffusion 2.1"),
            ("sdxl_vae", SDXL_VAE, "SDXL"), ("sd3_vae", SD3_VAE, "Stable Diffusion 3"),
            ("flux_vae", FLUX_VAE, "FLUX.1")]
    for stem, config, what in vaes:
        table[f"diffusers/{stem}"] = (f"diffusers.AutoencoderKL(**{config}) ({what})", vae(config))
    for stem, config, what in [("sd15_vae", SD15_VAE, "Stable Diffusion 1.5"), ("sdxl_vae", SDXL_VAE, "SDXL"),
                               ("sd3_vae", SD3_VAE, "Stable Diffusion 3")]:
        table[f"diffusers/{stem}_encoder"] = (
            f"diffusers.AutoencoderKL(**{config}) ({what}): encoder + quant_conv", vae(config, "encode"))
        table[f"diffusers/{stem}_decoder"] = (
            f"diffusers.AutoencoderKL(**{config}) ({what}): post_quant_conv + decoder", vae(config, "decode"))
    texts = [("sd15_text_encoder", SD15_TEXT, t.CLIPTextModel, "Stable Diffusion 1.5 text_encoder"),
             ("sd21_text_encoder", SD21_TEXT, t.CLIPTextModel, "Stable Diffusion 2.1 text_encoder"),
             ("sdxl_text_encoder", SDXL_TEXT, t.CLIPTextModel, "SDXL text_encoder"),
             ("sdxl_text_encoder_2", SDXL_TEXT_2, t.CLIPTextModelWithProjection, "SDXL text_encoder_2"),
             ("sd3_text_encoder", SD3_TEXT, t.CLIPTextModelWithProjection, "Stable Diffusion 3 text_encoder"),
             ("sd3_text_encoder_2", SD3_TEXT_2, t.CLIPTextModelWithProjection, "Stable Diffusion 3 text_encoder_2"),
             ("flux_text_encoder", FLUX_TEXT, t.CLIPTextModel, "FLUX.1 text_encoder")]
    for stem, config, cls, what in texts:
        table[f"diffusers/{stem}"] = (
            f"transformers.{cls.__name__}(CLIPTextConfig(**{config})) ({what})",
            lambda cls=cls, config=config: cls(t.CLIPTextConfig(**config)))
    return table
