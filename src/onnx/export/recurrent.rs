//! ONNX lowering of the recurrent family: one ONNX LSTM/GRU/RNN node per
//! layer (both directions in one node), chained. The initializers keep
//! PyTorch's names and shapes; Split/Concat/Unsqueeze nodes over them make
//! ONNX's layout (runtimes fold them once, at load):
//!
//! - gate order: PyTorch LSTM (i, f, g, o) becomes ONNX (i, o, f, c);
//!   GRU (r, z, n) becomes (z, r, h), with `linear_before_reset = 1`,
//!   which is PyTorch's n = tanh(W_in x + b_in + r * (W_hn h + b_hn));
//! - W, R: [dirs, gates * hidden, features], the directions stacked;
//!   B: [dirs, 2 * gates * hidden], bias_ih then bias_hh;
//! - batch_first by Transpose; ONNX's Y [seq, dirs, batch, hidden] is made
//!   PyTorch's [seq, batch, dirs * hidden] by Transpose and Reshape, and
//!   the layers' Y_h (Y_c) are concatenated into h_n (c_n).

#[allow(unused_imports)]
use super::*;
use crate::graph::{Rnn, RnnMode};

/// Where each ONNX gate block comes from in PyTorch's stacking.
fn onnx_gate_order(mode: RnnMode) -> &'static [usize] {
    match mode {
        // ONNX i, o, f, c from PyTorch i, f, g, o.
        RnnMode::Lstm => &[0, 3, 1, 2],
        // ONNX z, r, h from PyTorch r, z, n.
        RnnMode::Gru => &[1, 0, 2],
        RnnMode::RnnTanh | RnnMode::RnnRelu => &[0],
    }
}

fn a_strs(name: &str, v: &[&str]) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: attribute_type::STRINGS,
        strings: v.iter().map(|s| s.as_bytes().to_vec()).collect(),
        ..Default::default()
    }
}

// Helper names start with `rec_`: every family file extends `Lowering`.
impl Lowering<'_> {
    pub(super) fn lower_recurrent(&mut self, cur: &Cur) -> Result<(), OnnxError> {
        let Op::Recurrent(r) = &cur.node.op else {
            unreachable!("{:?} is not in the recurrent family", cur.node.op)
        };
        let params_at = 1 + r.state_inputs();
        let n = params_at + r.num_layers * r.directions() * r.params_per_cell();
        self.need_inputs(cur, n, n)?;
        if cur.outs.len() != 1 + r.mode.states() {
            return Err(self.err(cur, format!("has {} outputs", cur.outs.len())));
        }
        let x = self.in_info(cur, 0)?;
        if x.rank() != 3 {
            return Err(self.err(cur, "the input is not 3-d"));
        }
        let (seq, batch) = if r.batch_first {
            (x.shape[1], x.shape[0])
        } else {
            (x.shape[0], x.shape[1])
        };
        let ins = cur.ins.clone();
        let dtype = x.dtype;
        let mut layer_in = if r.batch_first {
            let t = self.rec_transpose(cur, &ins[0], &[1, 0, 2]);
            // Declared, as every layer input is: consumers that rewrite
            // the node (turnkey's tract runtime) read its batch size.
            self.rec_declare(&t, &[seq, batch, x.shape[2]], dtype);
            t
        } else {
            ins[0].clone()
        };
        let (mut hs, mut cs) = (Vec::new(), Vec::new());
        for layer in 0..r.num_layers {
            let (y, h, c) = self.recurrent_layer(cur, r, layer, &layer_in, &ins)?;
            hs.push(h);
            cs.extend(c);
            // [seq, dirs, batch, hidden] -> PyTorch's [seq, batch, dirs * hidden].
            let last = layer + 1 == r.num_layers;
            let width = r.directions() * r.hidden_size;
            let (perm, shape): (&[usize], [usize; 3]) = if last && r.batch_first {
                (&[2, 0, 1, 3], [batch, seq, width])
            } else {
                (&[0, 2, 1, 3], [seq, batch, width])
            };
            // One direction in time-major order is a reshape alone.
            let y = if r.directions() == 1 && !(last && r.batch_first) {
                y
            } else {
                self.rec_transpose(cur, &y, perm)
            };
            let target = last.then(|| cur.outs[0].clone());
            layer_in = self.rec_reshape(cur, &y, &shape, target);
            if !last {
                self.rec_declare(&layer_in, &shape, dtype);
            }
        }
        for (k, states) in [hs, cs].into_iter().enumerate() {
            if states.len() > 1 {
                let out = vec![cur.outs[1 + k].clone()];
                self.emit(cur, "Concat", states, out, vec![a_int("axis", 0)], false);
            }
        }
        Ok(())
    }

    /// One ONNX node for `layer`; returns its Y and its Y_h (and Y_c),
    /// which are the IR's h_n (c_n) when the op has one layer.
    fn recurrent_layer(
        &mut self,
        cur: &Cur,
        r: &Rnn,
        layer: usize,
        x: &str,
        ins: &[String],
    ) -> Result<(String, String, Option<String>), OnnxError> {
        let dirs = r.directions();
        let cell = r.params_per_cell();
        let first = 1 + r.state_inputs() + layer * dirs * cell;
        let [w, rr, b] = self.rec_layer_weights(cur, r, &ins[first..first + dirs * cell]);
        // This layer's slice of h0 (c0): rows layer*dirs .. (layer+1)*dirs.
        let mut states = Vec::new();
        for k in 0..r.state_inputs() {
            let s = &ins[1 + k];
            states.push(if r.num_layers == 1 {
                s.clone()
            } else {
                let starts = self.const_i64(cur, "starts", &[(layer * dirs) as i64]);
                let ends = self.const_i64(cur, "ends", &[((layer + 1) * dirs) as i64]);
                let axes = self.const_i64(cur, "axes", &[0]);
                self.step(cur, "Slice", vec![s.clone(), starts, ends, axes])
            });
        }
        let lstm = r.mode == RnnMode::Lstm;
        // X, W, R, B, sequence_lens, initial_h, initial_c; trailing absent
        // optional inputs are left out, inner ones are "".
        let mut input = vec![x.to_string(), w, rr, b, String::new()];
        input.extend(states);
        while input.last().is_some_and(String::is_empty) {
            input.pop();
        }
        let one = r.num_layers == 1;
        let state_out = |l: &mut Self, k: usize, name: &str| {
            if one {
                cur.outs[1 + k].clone()
            } else {
                l.fresh(cur, name)
            }
        };
        let y = self.fresh(cur, "Y");
        let y_h = state_out(self, 0, "Y_h");
        let y_c = lstm.then(|| state_out(self, 1, "Y_c"));
        let mut output = vec![y.clone(), y_h.clone()];
        output.extend(y_c.clone());
        let direction = if r.bidirectional {
            "bidirectional"
        } else {
            "forward"
        };
        let mut attrs = vec![
            a_int("hidden_size", r.hidden_size as i64),
            a_str("direction", direction),
        ];
        match r.mode {
            RnnMode::Gru => attrs.push(a_int("linear_before_reset", 1)),
            RnnMode::RnnRelu => attrs.push(a_strs("activations", &vec!["Relu"; dirs])),
            RnnMode::Lstm | RnnMode::RnnTanh => {}
        }
        let op_type = r.mode.class();
        self.emit(cur, op_type, input, output, attrs, layer == 0);
        Ok((y, y_h, y_c))
    }

    /// ONNX's W, R and B (B "" without biases) of one layer from its
    /// PyTorch parameters (per direction: weight_ih, weight_hh, bias_ih,
    /// bias_hh), made once per set of parameters.
    fn rec_layer_weights(&mut self, cur: &Cur, r: &Rnn, params: &[String]) -> [String; 3] {
        let key: Vec<String> = std::iter::once(format!("{:?}", r.mode))
            .chain(params.iter().cloned())
            .collect();
        if let Some(made) = self.rec_weights.get(&key) {
            return made.clone();
        }
        let (mut w, mut rr, mut b) = (Vec::new(), Vec::new(), Vec::new());
        for p in params.chunks(r.params_per_cell()) {
            w.push(self.rec_gates_to_onnx(cur, r, &p[0]));
            rr.push(self.rec_gates_to_onnx(cur, r, &p[1]));
            if r.bias {
                let bi = self.rec_reorder_gates(cur, r, &p[2]);
                let bh = self.rec_reorder_gates(cur, r, &p[3]);
                let both = self.fresh(cur, "B");
                self.emit(
                    cur,
                    "Concat",
                    vec![bi, bh],
                    vec![both.clone()],
                    vec![a_int("axis", 0)],
                    false,
                );
                b.push(self.rec_unsqueeze0(cur, &both));
            }
        }
        let w = self.rec_stack_directions(cur, w);
        let rr = self.rec_stack_directions(cur, rr);
        let b = if r.bias {
            self.rec_stack_directions(cur, b)
        } else {
            String::new()
        };
        let made = [w, rr, b];
        self.rec_weights.insert(key, made.clone());
        made
    }

    /// A PyTorch weight [gates * hidden, features] as one ONNX direction
    /// [1, gates * hidden, features] in ONNX's gate order.
    fn rec_gates_to_onnx(&mut self, cur: &Cur, r: &Rnn, weight: &str) -> String {
        let t = self.rec_reorder_gates(cur, r, weight);
        self.rec_unsqueeze0(cur, &t)
    }

    /// The gate blocks of axis 0 in ONNX's order (a Split and a Concat).
    fn rec_reorder_gates(&mut self, cur: &Cur, r: &Rnn, t: &str) -> String {
        let order = onnx_gate_order(r.mode);
        if order.len() == 1 {
            return t.to_string();
        }
        let sizes = self.const_i64(cur, "gate_sizes", &vec![r.hidden_size as i64; order.len()]);
        let parts: Vec<String> = (0..order.len())
            .map(|k| self.fresh(cur, &format!("gate{k}")))
            .collect();
        self.emit(
            cur,
            "Split",
            vec![t.to_string(), sizes],
            parts.clone(),
            vec![a_int("axis", 0)],
            false,
        );
        let out = self.fresh(cur, "gates");
        let ordered = order.iter().map(|&k| parts[k].clone()).collect();
        self.emit(
            cur,
            "Concat",
            ordered,
            vec![out.clone()],
            vec![a_int("axis", 0)],
            false,
        );
        out
    }

    fn rec_declare(&mut self, name: &str, shape: &[usize], dtype: DType) {
        let info = TypeInfo::new(shape.to_vec(), dtype);
        self.helper_infos.push(value_info(name, &info));
    }

    fn rec_unsqueeze0(&mut self, cur: &Cur, t: &str) -> String {
        let axes = self.const_i64(cur, "axes", &[0]);
        self.step(cur, "Unsqueeze", vec![t.to_string(), axes])
    }

    fn rec_stack_directions(&mut self, cur: &Cur, mut dirs: Vec<String>) -> String {
        if dirs.len() == 1 {
            return dirs.remove(0);
        }
        let out = self.fresh(cur, "dirs");
        self.emit(
            cur,
            "Concat",
            dirs,
            vec![out.clone()],
            vec![a_int("axis", 0)],
            false,
        );
        out
    }

    fn rec_transpose(&mut self, cur: &Cur, t: &str, perm: &[usize]) -> String {
        let out = self.fresh(cur, "Transpose_out");
        self.emit(
            cur,
            "Transpose",
            vec![t.to_string()],
            vec![out.clone()],
            vec![a_ints("perm", perm)],
            false,
        );
        out
    }

    /// Reshape to `shape`, into `target` (an IR output) or a fresh name.
    fn rec_reshape(
        &mut self,
        cur: &Cur,
        t: &str,
        shape: &[usize],
        target: Option<String>,
    ) -> String {
        let s = self.const_i64(cur, "shape", &i64s(shape));
        let out = target.unwrap_or_else(|| self.fresh(cur, "Reshape_out"));
        self.emit(
            cur,
            "Reshape",
            vec![t.to_string(), s],
            vec![out.clone()],
            vec![],
            false,
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::{Graph, Init, Param};

    /// A GRU called at two decoding steps: two GRU nodes over one set of
    /// converted weights (its Split/Concat/Unsqueeze nodes made once).
    #[test]
    fn a_layer_called_twice_converts_its_weights_once() {
        let r = Rnn {
            mode: RnnMode::Gru,
            hidden_size: 4,
            num_layers: 1,
            bias: true,
            batch_first: true,
            bidirectional: false,
            initial_state: true,
        };
        let mut g = Graph::new("Steps");
        let f32s = |shape: &[usize]| TypeInfo::new(shape.to_vec(), DType::Float32);
        let x = g.add_input("x", f32s(&[2, 1, 4]));
        let h0 = g.add_input("h0", f32s(&[1, 2, 4]));
        let params: Vec<ValueId> = r
            .params(4)
            .into_iter()
            .map(|(name, shape)| {
                g.add_param(Param {
                    name,
                    info: f32s(&shape),
                    init: Init::Constant(0.5),
                    trainable: true,
                })
            })
            .collect();
        let mut state = h0;
        let mut ins = vec![x, state];
        ins.extend(&params);
        let first = g.add_node(Op::Recurrent(r.clone()), &ins, "gru").unwrap();
        state = first[1];
        let mut ins = vec![first[0], state];
        ins.extend(&params);
        let second = g.add_node(Op::Recurrent(r), &ins, "gru").unwrap();
        g.add_output("y", second[0]);
        g.add_output("h", second[1]);
        let m = export_model(&g, &ExportOptions::default()).unwrap();
        let ops: Vec<&str> = m
            .graph
            .as_ref()
            .unwrap()
            .node
            .iter()
            .map(|n| n.op_type.as_str())
            .collect();
        let count = |op: &str| ops.iter().filter(|o| **o == op).count();
        assert_eq!(count("GRU"), 2, "{ops:?}");
        // weight_ih, weight_hh, bias_ih, bias_hh: one Split each.
        assert_eq!(count("Split"), 4, "{ops:?}");
        assert_eq!(count("Unsqueeze"), 3, "{ops:?}");
    }
}
