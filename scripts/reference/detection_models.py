"""Detection and segmentation models (models/ultralytics/, and the detr_* and
segformer_* scripts of models/transformers/): ultralytics DetectionModel,
SegmentationModel, PoseModel and ClassificationModel from their YAML files."""

import logging

import torch
import ultralytics
from ultralytics.nn.tasks import ClassificationModel, DetectionModel, PoseModel, SegmentationModel

LIBRARIES = {"ultralytics": ultralytics.__version__}

logging.getLogger("ultralytics").setLevel(logging.ERROR)

# script stem prefix -> (ultralytics class, YAML file stem)
ULTRALYTICS = {
    "yolov8": (DetectionModel, "yolov8"),
    "yolov8-seg": (SegmentationModel, "yolov8-seg"),
    "yolov8-pose": (PoseModel, "yolov8-pose"),
    "yolov8-cls": (ClassificationModel, "yolov8-cls"),
    "yolo11": (DetectionModel, "yolo11"),
    "yolo11-seg": (SegmentationModel, "yolo11-seg"),
    "yolo11-pose": (PoseModel, "yolo11-pose"),
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


def models():
    return {**ultralytics_models()}
