"""Training the convolutional partner of the sentiment model (train.py's ``--conv``): the
characters it knows, the PyTorch network it is trained as, and its training; conv.py scores
it in NumPy. SENTIMENT_MODEL.md says what it is and how well it does.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from patron.support.feedback.conv import MAX_CHARS, PAD, ConvLayer, char_ids

if TYPE_CHECKING:
    from patron.support.feedback.train import Recipe


def _alphabet(texts: Sequence[str], recipe: Recipe) -> np.ndarray:
    """The characters the convolutional partner gives a vector of their own: those in at
    least two of ``texts`` (normalised), the commonest ``conv_alphabet`` of them."""
    from patron.support.feedback.segment import normalise

    seen: Counter[str] = Counter()
    for text in texts:
        seen.update(set(normalise(text)[:MAX_CHARS]))
    common = [ch for ch, n in seen.most_common(recipe.conv_alphabet) if n >= 2]
    return np.array(sorted(ord(ch) for ch in common), dtype=np.int32)


def _conv_module(alphabet_size: int, recipe: Recipe) -> Any:
    """The PyTorch network the convolutional partner is trained as: ``forward(ids,
    lengths)`` takes a batch of texts' character ids (padded with PAD to their longest
    length plus the widest filter's reach) and gives a logit per text."""
    import torch

    class ConvNet(torch.nn.Module):  # type: ignore[misc,unused-ignore]  # Any without torch
        def __init__(self) -> None:
            super().__init__()
            self.embedding = torch.nn.Embedding(alphabet_size + 2, recipe.conv_dim, padding_idx=PAD)
            self.convs = torch.nn.ModuleList(
                torch.nn.Conv1d(recipe.conv_dim, recipe.conv_filters, w) for w in recipe.conv_widths
            )
            self.out = torch.nn.Linear(recipe.conv_filters * len(recipe.conv_widths), 1)
            self.dropout = torch.nn.Dropout(recipe.conv_dropout)

        def forward(self, ids: Any, lengths: Any) -> Any:
            longest = int(lengths.max())
            vectors = self.embedding(ids).transpose(1, 2)
            outside = torch.arange(longest)[None, :] >= lengths[:, None]
            pooled = [
                conv(vectors)[:, :, :longest].masked_fill(outside[:, None, :], -1e9).amax(2)
                for conv in self.convs
            ]
            return self.out(self.dropout(torch.relu(torch.cat(pooled, 1)))).squeeze(1)

        def layer(self, alphabet: np.ndarray) -> ConvLayer:
            """The network as it is now, for NumPy, on the grid its file keeps it on
            (``ConvLayer.stored``): what is scored on the validation split after an epoch,
            and the spread its share is divided by, are those of the network a file holds."""
            convs: list[Any] = list(self.convs)
            with torch.no_grad():
                return ConvLayer(
                    alphabet=alphabet,
                    embedding=self.embedding.weight.numpy().astype(np.float32),
                    widths=tuple(recipe.conv_widths),
                    filters=tuple(
                        conv.weight.numpy().transpose(2, 1, 0).astype(np.float32) for conv in convs
                    ),
                    biases=tuple(conv.bias.numpy().astype(np.float32) for conv in convs),
                    out=self.out.weight.numpy().ravel().astype(np.float32),
                    out_bias=float(self.out.bias.item()),
                ).stored()

    return ConvNet()


def _conv_batch(ids: Sequence[np.ndarray], tail: int) -> tuple[Any, Any]:
    """Texts' character ids as one padded batch for ``_conv_module``: (ids, lengths)."""
    import torch

    lengths = np.array([len(a) for a in ids], dtype=np.int64)
    batch = np.zeros((len(ids), int(lengths.max()) + tail), dtype=np.int64)
    for row, a in enumerate(ids):
        batch[row, : len(a)] = a
    return torch.from_numpy(batch), torch.from_numpy(lengths)


def _torch_logits(layer: ConvLayer, texts: Sequence[str], recipe: Recipe) -> np.ndarray:
    """The logits of ``layer`` computed by PyTorch with the network it was trained as
    (a check on the NumPy scorer)."""
    import torch

    net = _conv_module(len(layer.alphabet), recipe)
    with torch.no_grad():
        net.embedding.weight.copy_(torch.from_numpy(layer.embedding))
        for conv, w, b in zip(net.convs, layer.filters, layer.biases, strict=True):
            conv.weight.copy_(torch.from_numpy(w.transpose(2, 1, 0).copy()))
            conv.bias.copy_(torch.from_numpy(b))
        net.out.weight.copy_(torch.from_numpy(layer.out[None, :]))
        net.out.bias.fill_(layer.out_bias)
        net.eval()
        ids = char_ids(texts, layer.lookup())
        return net(*_conv_batch(ids, max(layer.widths) - 1)).numpy().astype(np.float64)


def _conv_net(
    texts: Sequence[str],
    y: np.ndarray,
    alphabet: np.ndarray,
    recipe: Recipe,
    epochs: int,
    after_epoch: Callable[[int, ConvLayer], None] | None = None,
    seed: int | None = None,
) -> ConvLayer:
    """The convolutional partner trained on ``texts`` with PyTorch, one thread, seeded;
    ``after_epoch`` gets the epoch and the network as it is then, ready for NumPy."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    seed = recipe.conv_seed if seed is None else seed
    tail = max(recipe.conv_widths) - 1
    lookup = {chr(int(cp)): i + 2 for i, cp in enumerate(alphabet)}
    ids = char_ids(texts, lookup)
    lengths = np.array([len(a) for a in ids])
    try:
        torch.manual_seed(seed)
        rng = np.random.default_rng(seed)
        net = _conv_module(len(alphabet), recipe)
        torch.nn.init.normal_(net.embedding.weight, 0.0, 0.1)
        with torch.no_grad():
            net.embedding.weight[PAD].zero_()
        optimiser = torch.optim.Adam(net.parameters(), lr=recipe.conv_rate)
        loss = torch.nn.BCEWithLogitsLoss()
        target = torch.from_numpy(y.astype(np.float32))
        size = recipe.conv_batch
        for epoch in range(1, epochs + 1):
            # batches of texts of like length (sorted within chunks of 50 batches), in
            # random order: little padding
            order = rng.permutation(len(ids))
            batches = []
            for i in range(0, len(order), 50 * size):
                chunk = order[i : i + 50 * size]
                chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
                batches += [chunk[j : j + size] for j in range(0, len(chunk), size)]
            net.train()
            for b in rng.permutation(len(batches)):
                at = batches[b]
                optimiser.zero_grad()
                loss(net(*_conv_batch([ids[i] for i in at], tail)), target[at]).backward()
                optimiser.step()
            if after_epoch is not None:
                after_epoch(epoch, net.layer(alphabet))
        return net.layer(alphabet)
    finally:
        torch.set_num_threads(threads)
