"""Hugging Face transformers encoders and GPT-2/T5/Whisper (models/transformers/)."""

import transformers

LIBRARIES = {"transformers": transformers.__version__}


def models():
    t = transformers
    bert_large = dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096)
    roberta = dict(vocab_size=50265, max_position_embeddings=514, type_vocab_size=1,
                   layer_norm_eps=1e-5, pad_token_id=1)
    whisper_tiny = dict(d_model=384, encoder_layers=4, encoder_attention_heads=6,
                        encoder_ffn_dim=1536, num_mel_bins=80, max_source_positions=1500)
    from transformers.models.whisper.modeling_whisper import WhisperEncoder
    return {
        "transformers/bert": ("BertModel(BertConfig())", lambda: t.BertModel(t.BertConfig())),
        "transformers/bert_large": (f"BertModel(BertConfig(**{bert_large}))",
                                    lambda: t.BertModel(t.BertConfig(**bert_large))),
        "transformers/roberta_base": (f"RobertaModel(RobertaConfig(**{roberta}))",
                                      lambda: t.RobertaModel(t.RobertaConfig(**roberta))),
        "transformers/distilbert": ("DistilBertModel(DistilBertConfig())",
                                    lambda: t.DistilBertModel(t.DistilBertConfig())),
        "transformers/gpt2": ("GPT2LMHeadModel(GPT2Config())", lambda: t.GPT2LMHeadModel(t.GPT2Config())),
        "transformers/distilgpt2": ("GPT2LMHeadModel(GPT2Config(n_layer=6))",
                                    lambda: t.GPT2LMHeadModel(t.GPT2Config(n_layer=6))),
        "transformers/t5_small": ("T5ForConditionalGeneration(T5Config())",
                                  lambda: t.T5ForConditionalGeneration(t.T5Config())),
        "transformers/whisper_tiny_encoder": (f"WhisperEncoder(WhisperConfig(**{whisper_tiny}))",
                                              lambda: WhisperEncoder(t.WhisperConfig(**whisper_tiny))),
    }


