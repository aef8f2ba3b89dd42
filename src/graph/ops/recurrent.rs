//! Shape and dtype inference of the recurrent family: nn.LSTM, nn.GRU and
//! nn.RNN, each one op over all its layers and directions, with PyTorch's
//! semantics and weight layout (what the script wrote). The ONNX exporter
//! converts the layout per layer; libtorch runs the op as it is.

#[allow(unused_imports)]
use super::*;

/// The cell of a recurrent op, as libtorch names its functions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RnnMode {
    Lstm,
    Gru,
    RnnTanh,
    RnnRelu,
}

impl RnnMode {
    /// Gates stacked in each weight, in PyTorch's order: LSTM (i, f, g, o),
    /// GRU (r, z, n), RNN one.
    pub fn gates(self) -> usize {
        match self {
            RnnMode::Lstm => 4,
            RnnMode::Gru => 3,
            RnnMode::RnnTanh | RnnMode::RnnRelu => 1,
        }
    }

    /// The PyTorch class (and ONNX operator) name.
    pub fn class(self) -> &'static str {
        match self {
            RnnMode::Lstm => "LSTM",
            RnnMode::Gru => "GRU",
            RnnMode::RnnTanh | RnnMode::RnnRelu => "RNN",
        }
    }

    /// Recurrent states: h, and c for an LSTM.
    pub fn states(self) -> usize {
        if self == RnnMode::Lstm { 2 } else { 1 }
    }

    /// Elementwise FLOPs per hidden unit and step after the gate sums:
    /// LSTM 4 activations, c = f*c + i*g (3), h = o*tanh(c) (2); GRU 2
    /// sigmoids, r*(W_hn h + b_hn) (1), + W_in x (1), tanh (1),
    /// h = (1-z)*n + z*h (3); RNN the activation.
    fn pointwise(self) -> u64 {
        match self {
            RnnMode::Lstm => 9,
            RnnMode::Gru => 8,
            RnnMode::RnnTanh | RnnMode::RnnRelu => 1,
        }
    }
}

/// One recurrent module: the arguments of torch's `lstm`/`gru`/`rnn_*`.
/// Inputs: x, then h0 (and c0) when `initial_state`, then the parameters
/// in PyTorch's flat order (per layer, per direction: weight_ih, weight_hh,
/// then bias_ih, bias_hh when `bias`). Outputs: output, h_n (and c_n).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Rnn {
    pub mode: RnnMode,
    pub hidden_size: usize,
    pub num_layers: usize,
    pub bias: bool,
    /// x and output are [batch, seq, feature]; h0/h_n stay [L*D, batch, H].
    pub batch_first: bool,
    pub bidirectional: bool,
    /// Whether h0 (and c0) follow x; else the states start at zero.
    pub initial_state: bool,
}

impl Rnn {
    pub fn directions(&self) -> usize {
        if self.bidirectional { 2 } else { 1 }
    }

    /// Parameters of one layer and direction: 2, or 4 with biases.
    pub fn params_per_cell(&self) -> usize {
        if self.bias { 4 } else { 2 }
    }

    /// State inputs that follow x.
    pub fn state_inputs(&self) -> usize {
        if self.initial_state {
            self.mode.states()
        } else {
            0
        }
    }

    /// Features read by `layer`: the input's, then the previous layer's
    /// output (both directions).
    pub fn layer_input_size(&self, input_size: usize, layer: usize) -> usize {
        if layer == 0 {
            input_size
        } else {
            self.hidden_size * self.directions()
        }
    }

    /// PyTorch's parameter names and shapes, in its flat order
    /// (`weight_ih_l0`, `weight_hh_l0`, `bias_ih_l0`, `bias_hh_l0`,
    /// `weight_ih_l0_reverse`, ...; torch/nn/modules/rnn.py).
    pub fn params(&self, input_size: usize) -> Vec<(String, Vec<usize>)> {
        let gh = self.mode.gates() * self.hidden_size;
        let mut out = Vec::new();
        for layer in 0..self.num_layers {
            for dir in 0..self.directions() {
                let sfx = if dir == 1 { "_reverse" } else { "" };
                let inp = self.layer_input_size(input_size, layer);
                out.push((format!("weight_ih_l{layer}{sfx}"), vec![gh, inp]));
                out.push((
                    format!("weight_hh_l{layer}{sfx}"),
                    vec![gh, self.hidden_size],
                ));
                if self.bias {
                    out.push((format!("bias_ih_l{layer}{sfx}"), vec![gh]));
                    out.push((format!("bias_hh_l{layer}{sfx}"), vec![gh]));
                }
            }
        }
        out
    }

    /// FLOPs of the whole sequence: per step, batch row, layer and
    /// direction, 2 per multiply-add of the two gate matmuls, one add of
    /// their results, 2 bias adds, and the cell's elementwise work.
    pub fn flops(&self, input_size: usize, seq: usize, batch: usize) -> u64 {
        let (h, gh) = (
            self.hidden_size as u64,
            (self.mode.gates() * self.hidden_size) as u64,
        );
        let per_step: u64 = (0..self.num_layers)
            .map(|l| {
                let inp = self.layer_input_size(input_size, l) as u64;
                2 * gh * (inp + h)
                    + gh
                    + if self.bias { 2 * gh } else { 0 }
                    + self.mode.pointwise() * h
            })
            .sum();
        per_step * (seq * batch * self.directions()) as u64
    }
}

pub(super) fn infer(
    o: &Op,
    op: &'static str,
    ins: &[&TypeInfo],
) -> Result<Vec<TypeInfo>, GraphError> {
    let Op::Recurrent(r) = o else {
        unreachable!("{o:?} is not in the recurrent family")
    };
    if r.hidden_size == 0 || r.num_layers == 0 {
        return err(op, "hidden_size and num_layers must be at least 1");
    }
    let params_at = 1 + r.state_inputs();
    let want = params_at + r.num_layers * r.directions() * r.params_per_cell();
    if ins.len() != want {
        return err(
            op,
            format!(
                "takes {want} inputs (x, {} state(s), {} parameters), got {}",
                r.state_inputs(),
                want - params_at,
                ins.len()
            ),
        );
    }
    let x = ins[0];
    need_float(op, x.dtype)?;
    let layout = if r.batch_first {
        "[batch, seq, features] (batch_first)"
    } else {
        "[seq, batch, features]"
    };
    if x.rank() != 3 {
        return err(
            op,
            format!("expects a {layout} input, got {}", shape_str(&x.shape)),
        );
    }
    let (seq, batch) = if r.batch_first {
        (x.shape[1], x.shape[0])
    } else {
        (x.shape[0], x.shape[1])
    };
    let input_size = x.shape[2];
    let (h, dirs) = (r.hidden_size, r.directions());
    let state = vec![r.num_layers * dirs, batch, h];
    for (k, s) in ins[1..params_at].iter().enumerate() {
        let name = ["h0", "c0"][k];
        if s.shape != state {
            return err(
                op,
                format!(
                    "{name} must be [num_layers * num_directions, batch, hidden_size] = {}, got {}",
                    shape_str(&state),
                    shape_str(&s.shape)
                ),
            );
        }
        same_dtype(op, x.dtype, s.dtype)?;
    }
    let first_w = ins[params_at];
    if first_w.rank() == 2 && first_w.shape[1] != input_size {
        return err(
            op,
            format!(
                "the input has {input_size} features (input {}) but the layer was made for \
                 input_size {}",
                shape_str(&x.shape),
                first_w.shape[1]
            ),
        );
    }
    for ((name, shape), p) in r.params(input_size).iter().zip(&ins[params_at..]) {
        if &p.shape != shape {
            return err(
                op,
                format!(
                    "{name} must be {}, got {}",
                    shape_str(shape),
                    shape_str(&p.shape)
                ),
            );
        }
        same_dtype(op, x.dtype, p.dtype)?;
    }
    let out = if r.batch_first {
        vec![batch, seq, dirs * h]
    } else {
        vec![seq, batch, dirs * h]
    };
    let mut outs = vec![TypeInfo::new(out, x.dtype)];
    outs.extend((0..r.mode.states()).map(|_| TypeInfo::new(state.clone(), x.dtype)));
    Ok(outs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ti(shape: &[usize]) -> TypeInfo {
        TypeInfo::new(shape.to_vec(), DType::Float32)
    }

    fn rnn(mode: RnnMode, layers: usize, bidirectional: bool) -> Rnn {
        Rnn {
            mode,
            hidden_size: 20,
            num_layers: layers,
            bias: true,
            batch_first: false,
            bidirectional,
            initial_state: false,
        }
    }

    fn count(r: &Rnn, input: usize) -> usize {
        r.params(input)
            .iter()
            .map(|(_, s)| s.iter().product::<usize>())
            .sum()
    }

    /// sum(p.numel() for p in torch.nn.LSTM/GRU/RNN(...).parameters()),
    /// written out from torch/nn/modules/rnn.py: per layer and direction
    /// gate_size * (layer_input + hidden) + 2 * gate_size.
    #[test]
    fn parameter_counts_follow_pytorch() {
        // nn.LSTM(10, 20): 4*20*(10+20) + 2*80.
        assert_eq!(count(&rnn(RnnMode::Lstm, 1, false), 10), 2560);
        // nn.LSTM(10, 20, num_layers=2, bidirectional=True): layer 1 reads 40.
        assert_eq!(
            count(&rnn(RnnMode::Lstm, 2, true), 10),
            2 * (80 * 30 + 160) + 2 * (80 * 60 + 160)
        );
        // nn.GRU(10, 20, num_layers=2).
        assert_eq!(
            count(&rnn(RnnMode::Gru, 2, false), 10),
            (60 * 30 + 120) + (60 * 40 + 120)
        );
        // nn.RNN(10, 20, bias=False).
        let mut r = rnn(RnnMode::RnnTanh, 1, false);
        r.bias = false;
        assert_eq!(count(&r, 10), 20 * 30);
        let names: Vec<String> = rnn(RnnMode::Gru, 2, true)
            .params(10)
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(
            names[..6],
            [
                "weight_ih_l0",
                "weight_hh_l0",
                "bias_ih_l0",
                "bias_hh_l0",
                "weight_ih_l0_reverse",
                "weight_hh_l0_reverse"
            ]
        );
        assert_eq!(names.last().unwrap(), "bias_hh_l1_reverse");
    }

    fn ins_for(r: &Rnn, x: &[usize], batch: usize) -> Vec<TypeInfo> {
        let mut v = vec![ti(x)];
        for _ in 0..r.state_inputs() {
            v.push(ti(&[r.num_layers * r.directions(), batch, r.hidden_size]));
        }
        v.extend(r.params(x[2]).into_iter().map(|(_, s)| ti(&s)));
        v
    }

    #[test]
    fn shapes_follow_pytorch() {
        let mut r = rnn(RnnMode::Lstm, 2, true);
        r.initial_state = true;
        let ins = ins_for(&r, &[7, 3, 10], 3);
        let refs: Vec<&TypeInfo> = ins.iter().collect();
        let op = Op::Recurrent(r.clone());
        let outs = op.infer(&refs).unwrap();
        assert_eq!(outs.len(), 3);
        assert_eq!(outs[0].shape, vec![7, 3, 40]);
        assert_eq!(outs[1].shape, vec![4, 3, 20]);
        assert_eq!(outs[2].shape, vec![4, 3, 20]);
        assert_eq!(op.kind(), "LSTM");
        // One step of one layer: 2*80*(10+20) + 80 + 160 + 9*20 per row.
        let one = Rnn {
            num_layers: 1,
            bidirectional: false,
            ..r.clone()
        };
        assert_eq!(one.flops(10, 1, 1), 2 * 80 * 30 + 80 + 160 + 180);

        let mut g = rnn(RnnMode::Gru, 1, false);
        g.batch_first = true;
        let ins = ins_for(&g, &[3, 7, 10], 3);
        let refs: Vec<&TypeInfo> = ins.iter().collect();
        let outs = Op::Recurrent(g).infer(&refs).unwrap();
        assert_eq!(outs.len(), 2);
        assert_eq!(outs[0].shape, vec![3, 7, 20]);
        assert_eq!(outs[1].shape, vec![1, 3, 20]);
    }

    #[test]
    fn errors_name_what_to_fix() {
        let mut r = rnn(RnnMode::Lstm, 1, false);
        let op = Op::Recurrent(r.clone());
        let mut ins = ins_for(&r, &[7, 3, 10], 3);
        ins[0] = ti(&[7, 3, 12]);
        let refs: Vec<&TypeInfo> = ins.iter().collect();
        let e = op.infer(&refs).unwrap_err().to_string();
        assert!(
            e.starts_with("LSTM: the input has 12 features") && e.contains("input_size 10"),
            "{e}"
        );
        let e = op.infer(&[&ti(&[7, 10])]).unwrap_err().to_string();
        assert!(e.contains("takes 5 inputs"), "{e}");
        r.initial_state = true;
        let mut ins = ins_for(&r, &[7, 3, 10], 3);
        ins[1] = ti(&[1, 2, 20]);
        let refs: Vec<&TypeInfo> = ins.iter().collect();
        let e = Op::Recurrent(r).infer(&refs).unwrap_err().to_string();
        assert!(e.contains("h0 must be [num_layers * num_directions, batch, hidden_size] = [1, 3, 20], got [1, 2, 20]"), "{e}");
    }
}
