"""torch_geometric models (models/graph_convolutions/)."""

import torch
import torch_geometric

LIBRARIES = {"torch_geometric": torch_geometric.__version__}


def models():
    from torch_geometric.nn.models import GAT, GCN, GIN, GraphSAGE
    return {
        "graph_convolutions/gcn": ("GCN(1433, 16, num_layers=2, out_channels=7)", lambda: GCN(1433, 16, 2, 7)),
        "graph_convolutions/graph_sage": ("GraphSAGE(1433, 16, num_layers=2, out_channels=7)",
                           lambda: GraphSAGE(1433, 16, 2, 7)),
        # Velickovic et al.'s Cora model (as gnn::gat builds it): 8 concatenated
        # heads, ELU, then one averaged output head; PyG's GAT class gives every
        # layer the same heads, so its output conv is replaced by that one.
        "graph_convolutions/gat": ("GAT(1433, 64, num_layers=2, out_channels=7, heads=8, act='elu') with "
                    "convs[1] = GATConv(64, 7, heads=1, concat=False)", gat),
        "graph_convolutions/gin": ("GIN(1433, 16, num_layers=2, out_channels=7)", lambda: GIN(1433, 16, 2, 7)),
        "graph_convolutions/gin_tu": ("examples/gin.py GIN(in_channels=7, hidden_channels=32, out_channels=2, "
                                      "num_layers=5)", lambda: GinTU(7, 32, 2, 5)),
    }


class GinTU(torch.nn.Module):
    """PyTorch Geometric's examples/gin.py model (its module tree; forward:
    ReLU after every conv, global_add_pool, the head MLP)."""

    def __init__(self, in_channels, hidden_channels, out_channels, num_layers):
        from torch_geometric.nn import MLP, GINConv
        super().__init__()
        self.convs = torch.nn.ModuleList()
        for _ in range(num_layers):
            self.convs.append(GINConv(nn=MLP([in_channels, hidden_channels, hidden_channels]), train_eps=False))
            in_channels = hidden_channels
        self.mlp = MLP([hidden_channels, hidden_channels, out_channels], norm=None, dropout=0.5)

    def forward(self, x, edge_index, batch):
        from torch_geometric.nn import global_add_pool
        for conv in self.convs:
            x = conv(x, edge_index).relu()
        return self.mlp(global_add_pool(x, batch))


def gat():
    from torch_geometric.nn import GATConv
    from torch_geometric.nn.models import GAT
    m = GAT(1433, 64, 2, 7, heads=8, act="elu")
    m.convs[1] = GATConv(64, 7, heads=1, concat=False)
    return m


