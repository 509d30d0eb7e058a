"""The phone teacher a ``semantic: teacher`` source-filter codec keeps inside its model file and
runs when encoding (see ``phonetic_stage.py`` for how its posteriors shape the first codebook)."""

from __future__ import annotations

import numpy as np
import torch

from ...errors import SpeechtokError

TEACHER_RATE = 50.0  # PhoneCTC's frame rate: frame j is centred on sample 320 j + 160


class EmbeddedPhoneTeacher(torch.nn.Module):
    """The teacher a ``semantic: teacher`` codec runs when encoding: PhoneCTC (the shipped
    architecture) and the scale its posteriors got at fitting time. (Called ``PhoneTeacher`` before; renamed apart
    from ``teachers.frame_targets.AlignedPhoneTeacher``, which gives forced-aligned phone ids.)"""

    def __init__(self):
        super().__init__()
        from ...teachers.phone_ctc import PhoneCTC

        self.model = PhoneCTC().eval().requires_grad_(False)
        self.register_buffer("scale", torch.zeros(()))

    def adopt(self, teacher, scale: float) -> None:
        """Take the weights of ``teacher`` (a PhoneCTC of the same architecture)."""
        if teacher.config != self.model.config:
            raise SpeechtokError(f"semantic teacher: a codec keeps a PhoneCTC of {self.model.config}, not {teacher.config}")
        self.model.load_state_dict(teacher.state_dict())
        self.scale.fill_(scale)

    @torch.no_grad()
    def side(self, wav: np.ndarray, hop: int, sample_rate: int = 16000) -> torch.Tensor:
        """(samples,) -> (ceil(samples / hop), classes) scaled posteriors: stage 1's side coordinates."""
        return torch.from_numpy(teacher_posteriors(self.model, wav, hop, sample_rate)) * self.scale


@torch.no_grad()
def teacher_posteriors(teacher, wav: np.ndarray, hop: int, sample_rate: int = 16000) -> np.ndarray:
    """Phone posteriors (frame head, softmax) of one utterance at the codec's frames:
    ``(ceil(samples / hop), classes)``. Codec frame ``i`` covers samples ``[i hop, (i+1) hop)``;
    it gets the mean of the teacher frames centred inside it (``hop`` must be a multiple of the
    teacher's 320-sample hop: 50, 25 or 12.5 Hz)."""
    t_hop = int(round(sample_rate / TEACHER_RATE))
    if hop % t_hop:
        raise SpeechtokError(f"a semantic codebook needs a frame hop that is a multiple of {t_hop} samples, not {hop}")
    r = hop // t_hop
    _, logits = teacher(torch.as_tensor(np.asarray(wav, np.float32))[None])
    p = logits[0].softmax(-1).numpy()
    T = max(1, -(-len(wav) // hop))
    p = np.concatenate([p, np.repeat(p[-1:], T * r - len(p), 0)]) if len(p) < T * r else p[: T * r]
    return p.reshape(T, r, -1).mean(1).astype(np.float32)


PhoneTeacher = EmbeddedPhoneTeacher  # its old name, kept for old imports
