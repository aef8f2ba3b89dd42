"""torch_geometric models (models/graph_convolutions/)."""

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
    }


def gat():
    from torch_geometric.nn import GATConv
    from torch_geometric.nn.models import GAT
    m = GAT(1433, 64, 2, 7, heads=8, act="elu")
    m.convs[1] = GATConv(64, 7, heads=1, concat=False)
    return m


