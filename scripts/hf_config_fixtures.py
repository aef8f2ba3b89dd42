"""Writes tests/data/hf_configs/<name>.json, Hugging Face config.json files
made by the transformers config classes (AutoConfig.for_model(model_type,
**sizes).to_dict(), as save_pretrained writes them), and
tests/data/hf_configs/reference.json: for each, the class transformers
builds from it and its exact parameter count (meta device). tests/hf_config.rs
builds each with transformers::from_config_file and compares.

Run: .cache/reference-venv/bin/python scripts/hf_config_fixtures.py
"""

import json
from pathlib import Path

import torch
import transformers as t

OUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "hf_configs"

# name: (model_type, config.json values beyond the class defaults, the class
# from_config builds: the model of `architectures`, or its base model where
# the head is not supported)
FIXTURES = {
    "bert_base_uncased": ("bert", dict(architectures=["BertForMaskedLM"]), "BertModel"),
    "minilm_l6": ("bert", dict(architectures=["BertModel"], hidden_size=384, num_hidden_layers=6,
                               intermediate_size=1536), "BertModel"),
    "roberta_base": ("roberta", dict(architectures=["RobertaForMaskedLM"], max_position_embeddings=514,
                                     type_vocab_size=1, layer_norm_eps=1e-5), "RobertaModel"),
    "xlm_roberta_base": ("xlm-roberta", dict(architectures=["XLMRobertaForMaskedLM"], vocab_size=250002,
                                             max_position_embeddings=514, type_vocab_size=1,
                                             layer_norm_eps=1e-5), "XLMRobertaModel"),
    "electra_small_discriminator": ("electra", dict(architectures=["ElectraForPreTraining"]), "ElectraModel"),
    "electra_base_discriminator": ("electra", dict(architectures=["ElectraModel"], embedding_size=768,
                                                   hidden_size=768, num_attention_heads=12,
                                                   intermediate_size=3072), "ElectraModel"),
    "albert_base_v2": ("albert", dict(architectures=["AlbertForMaskedLM"], hidden_size=768,
                                      num_attention_heads=12, intermediate_size=3072), "AlbertModel"),
    "deberta_v3_xsmall": ("deberta-v2", dict(architectures=["DebertaV2ForMaskedLM"], vocab_size=128100,
                                              hidden_size=384, num_hidden_layers=12, num_attention_heads=6,
                                              intermediate_size=1536, relative_attention=True,
                                              position_buckets=256, pos_att_type="p2c|c2p", share_att_key=True,
                                              norm_rel_ebd="layer_norm", position_biased_input=False,
                                              max_relative_positions=-1, layer_norm_eps=1e-7), "DebertaV2Model"),
    "distilbert_base_uncased": ("distilbert", dict(architectures=["DistilBertForMaskedLM"]), "DistilBertModel"),
    "gpt2": ("gpt2", dict(architectures=["GPT2LMHeadModel"]), "GPT2LMHeadModel"),
    "gpt2_model": ("gpt2", dict(architectures=["GPT2Model"], n_layer=2), "GPT2Model"),
    "t5_small": ("t5", dict(architectures=["T5ForConditionalGeneration"]), "T5ForConditionalGeneration"),
    "flan_t5_small": ("t5", dict(architectures=["T5ForConditionalGeneration"], d_ff=1024, num_layers=8,
                                 num_decoder_layers=8, num_heads=6, feed_forward_proj="gated-gelu",
                                 tie_word_embeddings=False), "T5ForConditionalGeneration"),
    "whisper_tiny_encoder": ("whisper", dict(architectures=["WhisperEncoder"]), "WhisperEncoder"),
    "whisper_tiny": ("whisper", dict(architectures=["WhisperForConditionalGeneration"]),
                     "WhisperForConditionalGeneration"),
    "bart_base": ("bart", dict(architectures=["BartForConditionalGeneration"], d_model=768, encoder_layers=6,
                               decoder_layers=6, encoder_attention_heads=12, decoder_attention_heads=12,
                               encoder_ffn_dim=3072, decoder_ffn_dim=3072), "BartForConditionalGeneration"),
    "opus_mt_en_de": ("marian", dict(architectures=["MarianMTModel"], vocab_size=58101, decoder_vocab_size=58101,
                                     max_position_embeddings=512, d_model=512, encoder_layers=6, decoder_layers=6,
                                     encoder_attention_heads=8, decoder_attention_heads=8, encoder_ffn_dim=2048,
                                     decoder_ffn_dim=2048, activation_function="swish", scale_embedding=True,
                                     pad_token_id=58100, decoder_start_token_id=58100), "MarianMTModel"),
    "wav2vec2_base": ("wav2vec2", dict(architectures=["Wav2Vec2Model"], mask_time_prob=0.0), "Wav2Vec2Model"),
    "hubert_large_ll60k": ("hubert", dict(architectures=["HubertModel"], mask_time_prob=0.0, hidden_size=1024,
                                          num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096,
                                          feat_extract_norm="layer", do_stable_layer_norm=True, conv_bias=True),
                           "HubertModel"),
    "bart_model": ("bart", dict(architectures=["BartModel"], d_model=256, encoder_layers=2, decoder_layers=2,
                                encoder_ffn_dim=512, decoder_ffn_dim=512), "BartModel"),
    "tinyllama": ("llama", dict(architectures=["LlamaForCausalLM"], hidden_size=2048, intermediate_size=5632,
                                num_hidden_layers=22, num_attention_heads=32, num_key_value_heads=4,
                                rms_norm_eps=1e-5), "LlamaForCausalLM"),
    "llama_model": ("llama", dict(architectures=["LlamaModel"], hidden_size=256, intermediate_size=512,
                                  num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                                  vocab_size=1000), "LlamaModel"),
    "qwen2_0_5b": ("qwen2", dict(architectures=["Qwen2ForCausalLM"], hidden_size=896, intermediate_size=4864,
                                 num_hidden_layers=24, num_attention_heads=14, num_key_value_heads=2,
                                 max_position_embeddings=32768, tie_word_embeddings=True,
                                 rope_theta=1000000.0), "Qwen2ForCausalLM"),
    "mistral_small": ("mistral", dict(architectures=["MistralForCausalLM"], hidden_size=512, intermediate_size=1024,
                                      num_hidden_layers=2, num_attention_heads=8, num_key_value_heads=2,
                                      head_dim=64), "MistralForCausalLM"),
    # The decoder families of stdlib/transformers_<family>.rhai, small.
    "phi_small": ("phi", dict(architectures=["PhiForCausalLM"], hidden_size=256, intermediate_size=512,
                              num_hidden_layers=2, num_attention_heads=4, vocab_size=1000), "PhiForCausalLM"),
    "phi3_small": ("phi3", dict(architectures=["Phi3ForCausalLM"], hidden_size=256, intermediate_size=512,
                                num_hidden_layers=2, num_attention_heads=4, vocab_size=1000, pad_token_id=0), "Phi3ForCausalLM"),
    "gemma_small": ("gemma", dict(architectures=["GemmaForCausalLM"], hidden_size=256, intermediate_size=512,
                                  num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=1,
                                  head_dim=64, vocab_size=1000), "GemmaForCausalLM"),
    "gemma2_model": ("gemma2", dict(architectures=["Gemma2Model"], hidden_size=256, intermediate_size=512,
                                    num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                                    head_dim=64, vocab_size=1000), "Gemma2Model"),
    "pythia_small": ("gpt_neox", dict(architectures=["GPTNeoXForCausalLM"], hidden_size=256, intermediate_size=1024,
                                      num_hidden_layers=2, num_attention_heads=4, vocab_size=1000),
                     "GPTNeoXForCausalLM"),
    "opt_small": ("opt", dict(architectures=["OPTForCausalLM"], hidden_size=256, ffn_dim=512, word_embed_proj_dim=256,
                              num_hidden_layers=2, num_attention_heads=4, vocab_size=1000), "OPTForCausalLM"),
    "falcon_small": ("falcon", dict(architectures=["FalconForCausalLM"], hidden_size=256, num_hidden_layers=2,
                                    num_attention_heads=4, vocab_size=1000), "FalconForCausalLM"),
    "mixtral_small": ("mixtral", dict(architectures=["MixtralForCausalLM"], hidden_size=256, intermediate_size=512,
                                      num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                                      vocab_size=1000), "MixtralForCausalLM"),
}


def make(cls_name, config):
    if cls_name == "WhisperEncoder":
        from transformers.models.whisper.modeling_whisper import WhisperEncoder
        return WhisperEncoder(config)
    return getattr(t, cls_name)(config)


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    reference = {"generated_by": "scripts/hf_config_fixtures.py", "transformers": t.__version__, "models": {}}
    for name, (model_type, values, cls_name) in FIXTURES.items():
        config = t.AutoConfig.for_model(model_type, **values)
        path = OUT / f"{name}.json"
        config.to_json_file(path)
        # Read back as a user's config.json is read.
        config = t.AutoConfig.from_pretrained(path)
        with torch.device("meta"):
            model = make(cls_name, config)
        reference["models"][name] = {"class": cls_name, "num_parameters": model.num_parameters()}
        print(name, cls_name, model.num_parameters())
    (OUT / "reference.json").write_text(json.dumps(reference, indent=2) + "\n")


if __name__ == "__main__":
    main()
