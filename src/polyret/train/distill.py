"""Multilingual knowledge distillation toward the frozen base model (Reimers and Gurevych 2020, arXiv 2004.09813).

Each text of a batch, in whatever language, is pulled toward the base model's embedding of the same group's text in
the pivot language (English by default): student(x_l) ~ teacher(x_pivot). Pivot-language rows are pulled toward the
teacher's embedding of themselves, which keeps what the base model knew; other languages are pulled onto the pivot,
which aligns them. The term is added to the contrastive loss (any loss of the registry), weighted.

Which text is a row's counterpart: for a query, the group's pivot-language query; for a positive that is a passage,
the group's pivot-language passage; for a positive that is a translated question (parallel question sets), the
group's pivot-language question. Rows whose group has no such text get no distillation term. The teacher
truncates as the student does (the run's query and passage lengths), so a pivot-language row is pulled toward
exactly its own base-model embedding; each (role, text) is encoded once per run and kept in memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import torch
from torch import Tensor, nn

from polyret.data.groups import Group
from polyret.train.loss import InfoNCEOutput


@dataclass(frozen=True)
class DistillTargets:
    """Teacher vectors for the batch's query and positive rows, and which rows have one."""

    queries: Tensor  # [B, d]
    query_mask: Tensor  # [B] bool
    positives: Tensor  # [B, d]
    positive_mask: Tensor  # [B] bool


def counterpart(group: Group, role: str, lang: str, pivot: str) -> str | None:
    """The pivot-language text a row of `role` ('query' or 'positive') in `lang` is regressed onto."""
    if role == "query" or lang not in group.passages:
        return group.queries.get(pivot)
    return group.passages.get(pivot)


class Teacher:
    """The frozen base model's vectors of each row's pivot counterpart (see the module docstring)."""

    def __init__(self, encoder: Any, groups: Sequence[Group], pivot: str = "en", query_max_length: int = 512,
                 passage_max_length: int = 512) -> None:
        self.encoder, self.pivot = encoder, pivot
        self.groups = {group.id: group for group in groups}
        self.max_length = {"query": query_max_length, "passage": passage_max_length}
        self.known: dict[tuple[str, str], Tensor] = {}
        encoder.model.eval()
        for parameter in encoder.model.parameters():
            parameter.requires_grad_(False)

    def texts(self, batch: Any) -> tuple[list[str | None], list[str | None]]:
        """The counterpart text of every query row and every positive row (None: no term for that row)."""
        queries = [counterpart(self.groups[g], "query", lang, self.pivot)
                   for g, lang in zip(batch.group_ids, batch.query_langs)]
        positives = [counterpart(self.groups[g], "positive", lang, self.pivot)
                     for g, lang in zip(batch.group_ids, batch.positive_langs)]
        return queries, positives

    def targets(self, batch: Any, device: torch.device) -> DistillTargets:
        queries, positives = self.texts(batch)
        q, q_mask = self._vectors(queries, "query")
        p, p_mask = self._vectors(positives, "passage")
        return DistillTargets(q.to(device), q_mask.to(device), p.to(device), p_mask.to(device))

    def _vectors(self, texts: list[str | None], kind: str) -> tuple[Tensor, Tensor]:
        new = list(dict.fromkeys(t for t in texts if t is not None and (kind, t) not in self.known))
        if new:
            ids = self.encoder.token_ids(self.encoder.prefixed(new, kind), self.max_length[kind])
            for text, vector in zip(new, torch.from_numpy(self.encoder.forward_ids(ids))):
                self.known[(kind, text)] = vector
        vectors = torch.zeros((len(texts), self.encoder.dim), dtype=torch.float32)
        for row, text in enumerate(texts):
            if text is not None:
                vectors[row] = self.known[(kind, text)]
        return vectors, torch.tensor([t is not None for t in texts], dtype=torch.bool)


def _squared_distance(student: Tensor, teacher: Tensor, mask: Tensor) -> Tensor:
    """Mean over the masked rows of ||student - teacher||^2 (0 when no row has a target)."""
    if not bool(mask.any()):
        return student.sum() * 0.0
    diff = student[mask].float() - teacher[mask].float()
    return (diff * diff).sum(dim=1).mean()


class DistillationLoss(nn.Module):
    """`base` loss + weight * (query term + positive term); called like the base loss, with `targets` added."""

    def __init__(self, base: nn.Module, weight: float) -> None:
        super().__init__()
        if weight < 0:
            raise ValueError(f"distillation weight must be >= 0, got {weight}")
        self.base, self.weight = base, weight

    def forward(self, q: Tensor, p: Tensor, n: Tensor | None = None,
                targets: DistillTargets | None = None) -> InfoNCEOutput:
        out = self.base(q, p, n)
        if targets is None or not self.weight:
            return out
        term = (_squared_distance(q, targets.queries, targets.query_mask)
                + _squared_distance(p, targets.positives, targets.positive_mask))
        return InfoNCEOutput(out.loss + self.weight * term, out.accuracy)
