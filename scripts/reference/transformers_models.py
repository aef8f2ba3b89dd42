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
        **encoders(),
        **seq2seq(),
        **deberta(),
        **speech(),
    }




def encoders():
    """ELECTRA, ALBERT, XLM-RoBERTa, MiniLM sentence embedders, more BERT,
    RoBERTa and T5 sizes: each hub checkpoint's config.json sizes on the
    config class's defaults (base models, without task heads)."""
    t = transformers
    roberta = dict(vocab_size=50265, max_position_embeddings=514, type_vocab_size=1,
                   layer_norm_eps=1e-5, pad_token_id=1)
    xlmr = dict(roberta, vocab_size=250002)
    large = dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096)
    minilm = dict(hidden_size=384, intermediate_size=1536, num_attention_heads=12)
    electra = {
        "small": dict(),
        "base": dict(embedding_size=768, hidden_size=768, num_attention_heads=12, intermediate_size=3072),
        "large": dict(embedding_size=1024, **large),
    }
    albert = {
        "base": dict(hidden_size=768, num_attention_heads=12, intermediate_size=3072),
        "large": dict(large),
        "xlarge": dict(hidden_size=2048, num_hidden_layers=24, num_attention_heads=16, intermediate_size=8192),
        "xxlarge": dict(),
    }
    t5 = {
        "t5_base": dict(d_model=768, d_ff=3072, num_layers=12, num_heads=12),
        "t5_large": dict(d_model=1024, d_ff=4096, num_layers=24, num_heads=16),
        "flan_t5_small": dict(d_ff=1024, num_layers=8, num_decoder_layers=8, num_heads=6,
                              feed_forward_proj="gated-gelu", tie_word_embeddings=False),
        "flan_t5_base": dict(d_model=768, d_ff=2048, num_layers=12, num_decoder_layers=12, num_heads=12,
                             feed_forward_proj="gated-gelu", tie_word_embeddings=False),
    }

    def cfg(cls, config, kwargs):
        return (f"{cls}({config}(**{kwargs}))",
                lambda: getattr(t, cls)(getattr(t, config)(**kwargs)))

    out = {}
    for size, kw in electra.items():
        out[f"transformers/electra_{size}_discriminator"] = cfg("ElectraModel", "ElectraConfig", kw)
    for size, kw in albert.items():
        out[f"transformers/albert_{size}_v2"] = cfg("AlbertModel", "AlbertConfig", kw)
    out["transformers/xlm_roberta_base"] = cfg("XLMRobertaModel", "XLMRobertaConfig", xlmr)
    out["transformers/xlm_roberta_large"] = cfg("XLMRobertaModel", "XLMRobertaConfig", dict(xlmr, **large))
    out["transformers/all_minilm_l6_v2"] = cfg("BertModel", "BertConfig", dict(minilm, num_hidden_layers=6))
    out["transformers/all_minilm_l12_v2"] = cfg("BertModel", "BertConfig", dict(minilm, num_hidden_layers=12))
    out["transformers/paraphrase_minilm_l3_v2"] = cfg("BertModel", "BertConfig", dict(minilm, num_hidden_layers=3))
    out["transformers/bert_base_cased"] = cfg("BertModel", "BertConfig", dict(vocab_size=28996))
    out["transformers/bert_base_multilingual_cased"] = cfg("BertModel", "BertConfig", dict(vocab_size=119547))
    out["transformers/roberta_large"] = cfg("RobertaModel", "RobertaConfig", dict(roberta, **large))
    out["transformers/distilroberta_base"] = cfg("RobertaModel", "RobertaConfig", dict(roberta, num_hidden_layers=6))
    for name, kw in t5.items():
        out[f"transformers/{name}"] = cfg("T5ForConditionalGeneration", "T5Config", kw)
    return out


def seq2seq():
    """BART and the whole Whisper (encoder, decoder, tied output
    projection), with each hub checkpoint's config.json sizes."""
    t = transformers
    bart = {
        "bart_base": dict(d_model=768, encoder_layers=6, decoder_layers=6, encoder_attention_heads=12,
                          decoder_attention_heads=12, encoder_ffn_dim=3072, decoder_ffn_dim=3072),
        "bart_large": dict(),
    }
    whisper = {
        "tiny": dict(),
        "base": dict(d_model=512, encoder_layers=6, decoder_layers=6, encoder_attention_heads=8,
                     decoder_attention_heads=8, encoder_ffn_dim=2048, decoder_ffn_dim=2048),
        "small": dict(d_model=768, encoder_layers=12, decoder_layers=12, encoder_attention_heads=12,
                      decoder_attention_heads=12, encoder_ffn_dim=3072, decoder_ffn_dim=3072),
        "medium": dict(d_model=1024, encoder_layers=24, decoder_layers=24, encoder_attention_heads=16,
                       decoder_attention_heads=16, encoder_ffn_dim=4096, decoder_ffn_dim=4096),
        "large_v3": dict(d_model=1280, encoder_layers=32, decoder_layers=32, encoder_attention_heads=20,
                         decoder_attention_heads=20, encoder_ffn_dim=5120, decoder_ffn_dim=5120,
                         num_mel_bins=128, vocab_size=51866),
    }

    def cfg(cls, config, kwargs):
        return (f"{cls}({config}(**{kwargs}))",
                lambda: getattr(t, cls)(getattr(t, config)(**kwargs)))

    out = {f"transformers/{k}": cfg("BartForConditionalGeneration", "BartConfig", kw) for k, kw in bart.items()}
    marian = dict(vocab_size=58101, decoder_vocab_size=58101, max_position_embeddings=512, d_model=512,
                  encoder_layers=6, decoder_layers=6, encoder_attention_heads=8, decoder_attention_heads=8,
                  encoder_ffn_dim=2048, decoder_ffn_dim=2048, activation_function="swish", scale_embedding=True,
                  pad_token_id=58100, decoder_start_token_id=58100)
    out["transformers/opus_mt_en_de"] = cfg("MarianMTModel", "MarianConfig", marian)
    for size, kw in whisper.items():
        out[f"transformers/whisper_{size}"] = cfg("WhisperForConditionalGeneration", "WhisperConfig", kw)
    return out


# DeBERTa-v3's config.json values beyond DebertaV2Config's defaults.
DEBERTA_V3 = dict(vocab_size=128100, relative_attention=True, position_buckets=256, pos_att_type="p2c|c2p",
                  share_att_key=True, norm_rel_ebd="layer_norm", position_biased_input=False,
                  max_relative_positions=-1, layer_norm_eps=1e-7, type_vocab_size=0)


def deberta():
    """DeBERTa-v3 sizes (DebertaV2Model: the backbone without task heads)."""
    t = transformers
    sizes = {
        "xsmall": dict(hidden_size=384, num_hidden_layers=12, num_attention_heads=6, intermediate_size=1536),
        "small": dict(hidden_size=768, num_hidden_layers=6, num_attention_heads=12, intermediate_size=3072),
        "base": dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072),
        "large": dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096),
    }
    out = {}
    for size, kw in sizes.items():
        kwargs = dict(DEBERTA_V3, **kw)
        out[f"transformers/deberta_v3_{size}"] = (f"DebertaV2Model(DebertaV2Config(**{kwargs}))",
                                                  lambda kwargs=kwargs: t.DebertaV2Model(t.DebertaV2Config(**kwargs)))
    return out


def speech():
    """wav2vec 2.0 and HuBERT backbones (Wav2Vec2Model, HubertModel) with
    mask_time_prob 0: SpecAugment's masked_spec_embed is a training-only
    parameter the scripts leave out."""
    t = transformers
    large = dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096)
    models = {
        "wav2vec2_base": ("Wav2Vec2Model", "Wav2Vec2Config", dict()),
        "wav2vec2_large_960h": ("Wav2Vec2Model", "Wav2Vec2Config", dict(large)),
        "hubert_base_ls960": ("HubertModel", "HubertConfig", dict()),
        "hubert_large_ll60k": ("HubertModel", "HubertConfig", dict(large, feat_extract_norm="layer",
                                                                  do_stable_layer_norm=True, conv_bias=True)),
    }
    out = {}
    for name, (cls, config, kw) in models.items():
        kwargs = dict(kw, mask_time_prob=0.0)
        out[f"transformers/{name}"] = (f"{cls}({config}(**{kwargs}))",
                                       lambda cls=cls, config=config, kwargs=kwargs:
                                       getattr(t, cls)(getattr(t, config)(**kwargs)))
    return out
