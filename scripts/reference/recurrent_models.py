"""Recurrent models (models/recurrent/): the modules of pytorch/examples and
the PyTorch seq2seq tutorial, rebuilt here with their attribute names (the
state_dict names) since neither ships as a library."""

import torch
from torch import nn

LIBRARIES = {"torch": torch.__version__}


class RNNModel(nn.Module):
    """pytorch/examples word_language_model/model.py, LSTM, untied."""

    def __init__(self, ntoken, ninp, nhid, nlayers, dropout=0.5):
        super().__init__()
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.Embedding(ntoken, ninp)
        self.rnn = nn.LSTM(ninp, nhid, nlayers, dropout=dropout)
        self.decoder = nn.Linear(nhid, ntoken)


class EncoderRNN(nn.Module):
    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.embedding = nn.Embedding(input_size, hidden_size)
        self.gru = nn.GRU(hidden_size, hidden_size, batch_first=True)
        self.dropout = nn.Dropout(0.1)


class DecoderRNN(nn.Module):
    def __init__(self, hidden_size, output_size):
        super().__init__()
        self.embedding = nn.Embedding(output_size, hidden_size)
        self.gru = nn.GRU(hidden_size, hidden_size, batch_first=True)
        self.out = nn.Linear(hidden_size, output_size)


class Seq2Seq(nn.Module):
    """The tutorial's encoder and decoder, as the script holds them."""

    def __init__(self):
        super().__init__()
        self.encoder = EncoderRNN(4345, 128)
        self.decoder = DecoderRNN(128, 2803)


def models():
    return {
        "recurrent/lstm_lm_ptb_medium": ("word_language_model RNNModel('LSTM', 10000, 650, 650, 2)",
                                         lambda: RNNModel(10000, 650, 650, 2)),
        "recurrent/gru_greedy_decoder": ("seq2seq tutorial EncoderRNN(4345, 128) + DecoderRNN(128, 2803)",
                                         Seq2Seq),
    }
