"""A linear-chain conditional random field over padded batches: training loss, Viterbi
decoding with the path's probability, and per-token tag marginals (forward-backward)."""

from __future__ import annotations

import torch
from torch import nn


class CRF(nn.Module):
    def __init__(self, num_tags: int):
        super().__init__()
        self.transitions = nn.Parameter(torch.zeros(num_tags, num_tags))  # [from, to]
        self.start = nn.Parameter(torch.zeros(num_tags))
        self.end = nn.Parameter(torch.zeros(num_tags))

    def _alphas(self, emissions: torch.Tensor, mask: torch.Tensor) -> list[torch.Tensor]:
        """Forward log-scores per position; a padded position carries the last real one."""
        alpha = self.start + emissions[:, 0]
        alphas = [alpha]
        for t in range(1, emissions.shape[1]):
            step = torch.logsumexp(alpha.unsqueeze(2) + self.transitions + emissions[:, t].unsqueeze(1), dim=1)
            alpha = torch.where(mask[:, t].unsqueeze(1), step, alpha)
            alphas.append(alpha)
        return alphas

    def _betas(self, emissions: torch.Tensor, mask: torch.Tensor) -> list[torch.Tensor]:
        beta = self.end.expand(emissions.shape[0], -1)
        betas = [beta]
        for t in range(emissions.shape[1] - 2, -1, -1):
            step = torch.logsumexp(self.transitions + (emissions[:, t + 1] + beta).unsqueeze(1), dim=2)
            beta = torch.where(mask[:, t + 1].unsqueeze(1), step, self.end.expand_as(step))
            betas.append(beta)
        return betas[::-1]

    def log_partition(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return torch.logsumexp(self._alphas(emissions, mask)[-1] + self.end, dim=1)

    def path_score(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        batch = torch.arange(emissions.shape[0], device=emissions.device)
        score = self.start[tags[:, 0]] + emissions[batch, 0, tags[:, 0]]
        for t in range(1, emissions.shape[1]):
            step = self.transitions[tags[:, t - 1], tags[:, t]] + emissions[batch, t, tags[:, t]]
            score = score + step * mask[:, t]
        last = tags[batch, mask.sum(1) - 1]
        return score + self.end[last]

    def loss(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Mean negative log-likelihood of the gold tag sequences."""
        return (self.log_partition(emissions, mask) - self.path_score(emissions, tags, mask)).mean()

    @torch.no_grad()
    def decode(self, emissions: torch.Tensor, mask: torch.Tensor) -> tuple[list[list[int]], torch.Tensor]:
        """Best tag sequence of each sentence and its probability under the model."""
        num_tags = emissions.shape[2]
        identity = torch.arange(num_tags, device=emissions.device).expand(emissions.shape[0], -1)
        score = self.start + emissions[:, 0]
        pointers = []
        for t in range(1, emissions.shape[1]):
            best, index = (score.unsqueeze(2) + self.transitions + emissions[:, t].unsqueeze(1)).max(dim=1)
            step_mask = mask[:, t].unsqueeze(1)
            score = torch.where(step_mask, best, score)
            pointers.append(torch.where(step_mask, index, identity))
        score = score + self.end
        best_score, last = score.max(dim=1)
        path = [last]
        for pointer in reversed(pointers):
            path.append(pointer.gather(1, path[-1].unsqueeze(1)).squeeze(1))
        path = torch.stack(path[::-1], dim=1).tolist()
        lengths = mask.sum(1).tolist()
        probability = torch.exp(best_score - self.log_partition(emissions, mask))
        return [row[:n] for row, n in zip(path, lengths)], probability

    @torch.no_grad()
    def marginals(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(batch, tokens, tags) probability of each tag at each position."""
        alphas = torch.stack(self._alphas(emissions, mask), dim=1)
        betas = torch.stack(self._betas(emissions, mask), dim=1)
        return torch.softmax(alphas + betas, dim=2)
