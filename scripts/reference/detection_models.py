"""Detection and segmentation models (models/ultralytics/, and the detr_* and
segformer_* scripts of models/transformers/): ultralytics DetectionModel,
SegmentationModel, PoseModel and ClassificationModel from their YAML files."""

import logging

import torch
import transformers
import ultralytics
from ultralytics.nn.tasks import ClassificationModel, DetectionModel, OBBModel, PoseModel, SegmentationModel

LIBRARIES = {"ultralytics": ultralytics.__version__, "transformers": transformers.__version__}

logging.getLogger("ultralytics").setLevel(logging.ERROR)

# script stem prefix -> (ultralytics class, YAML file stem)
ULTRALYTICS = {
    "yolov8": (DetectionModel, "yolov8"),
    "yolov8-p2": (DetectionModel, "yolov8-p2"),
    "yolov8-p6": (DetectionModel, "yolov8-p6"),
    "yolov8-ghost": (DetectionModel, "yolov8-ghost"),
    "yolov8-ghost-p2": (DetectionModel, "yolov8-ghost-p2"),
    "yolov8-ghost-p6": (DetectionModel, "yolov8-ghost-p6"),
    "yolov8-seg-p6": (SegmentationModel, "yolov8-seg-p6"),
    "yolov8-pose-p6": (PoseModel, "yolov8-pose-p6"),
    "yolov8-seg": (SegmentationModel, "yolov8-seg"),
    "yolov8-pose": (PoseModel, "yolov8-pose"),
    "yolov8-obb": (OBBModel, "yolov8-obb"),
    "yolov8-cls": (ClassificationModel, "yolov8-cls"),
    "yolo11": (DetectionModel, "yolo11"),
    "yolo11-seg": (SegmentationModel, "yolo11-seg"),
    "yolo11-pose": (PoseModel, "yolo11-pose"),
    "yolo11-obb": (OBBModel, "yolo11-obb"),
    "yolo11-cls": (ClassificationModel, "yolo11-cls"),
}


def on_cpu(cls, name):
    """ultralytics runs a forward pass in __init__ to measure the strides,
    which the meta device cannot: these are built on the CPU (small)."""
    with torch.device("cpu"):
        return cls(f"{name}.yaml", verbose=False)


def ultralytics_models():
    out = {}
    for family, (cls, yaml) in ULTRALYTICS.items():
        for scale in "nsmlx":
            # yolov8n-seg.yaml reads yolov8-seg.yaml at scale n, as ultralytics resolves it
            name = yaml.replace("-", f"{scale}-", 1) if "-" in yaml else yaml + scale
            stem = name.replace("-", "_")
            out[f"ultralytics/{stem}"] = (
                f"ultralytics.nn.tasks.{cls.__name__}(\"{name}.yaml\")",
                lambda cls=cls, name=name: on_cpu(cls, name))
    return out


STAGES = ["stage1", "stage2", "stage3", "stage4"]


def detr(depths):
    """DetrForObjectDetection with transformers' own ResNet backbone
    (use_timm_backbone=False) and facebook/detr-resnet-*'s 91 labels."""
    backbone = transformers.ResNetConfig(depths=depths, out_features=STAGES)
    return transformers.DetrForObjectDetection(transformers.DetrConfig(backbone_config=backbone, num_labels=91))


def transformers_models():
    return {
        "transformers/detr_resnet_50": (
            "transformers.DetrForObjectDetection(DetrConfig(backbone_config=ResNetConfig(depths=[3, 4, 6, 3]), num_labels=91))",
            lambda: detr([3, 4, 6, 3])),
        "transformers/detr_resnet_101": (
            "transformers.DetrForObjectDetection(DetrConfig(backbone_config=ResNetConfig(depths=[3, 4, 23, 3]), num_labels=91))",
            lambda: detr([3, 4, 23, 3])),
    }


# nvidia/segformer-b*-finetuned-ade-*: config.json values that differ from SegformerConfig's defaults (b0's)
SEGFORMER = {
    "b0": dict(),
    "b1": dict(hidden_sizes=[64, 128, 320, 512]),
    "b2": dict(hidden_sizes=[64, 128, 320, 512], depths=[3, 4, 6, 3], decoder_hidden_size=768),
    "b3": dict(hidden_sizes=[64, 128, 320, 512], depths=[3, 4, 18, 3], decoder_hidden_size=768),
    "b4": dict(hidden_sizes=[64, 128, 320, 512], depths=[3, 8, 27, 3], decoder_hidden_size=768),
    "b5": dict(hidden_sizes=[64, 128, 320, 512], depths=[3, 6, 40, 3], decoder_hidden_size=768),
}


def segformer_models():
    out = {}
    for b, cfg in SEGFORMER.items():
        cfg = {**cfg, "num_labels": 150}
        out[f"transformers/segformer_{b}"] = (
            f"transformers.SegformerForSemanticSegmentation(SegformerConfig(**{cfg}))",
            lambda cfg=cfg: transformers.SegformerForSemanticSegmentation(transformers.SegformerConfig(**cfg)))
        # nvidia/segformer-b*-finetuned-cityscapes-1024-1024: 19 classes
        city = {**cfg, "num_labels": 19}
        out[f"transformers/segformer_{b}_cityscapes"] = (
            f"transformers.SegformerForSemanticSegmentation(SegformerConfig(**{city}))",
            lambda city=city: transformers.SegformerForSemanticSegmentation(transformers.SegformerConfig(**city)))
        # nvidia/mit-b*: the same encoders as ImageNet classifiers
        mit = {k: v for k, v in cfg.items() if k != "decoder_hidden_size"} | {"num_labels": 1000}
        out[f"transformers/segformer_mit_{b}"] = (
            f"transformers.SegformerForImageClassification(SegformerConfig(**{mit}))",
            lambda mit=mit: transformers.SegformerForImageClassification(transformers.SegformerConfig(**mit)))
    return out


def models():
    return {**ultralytics_models(), **transformers_models(), **segformer_models()}
