"""The task tests train small models in-process: one intra-op thread each.

On 2 cores shared with other jobs, torch's 2 threads wait on each other: a GRU step took 0.4 s
instead of 9 ms. One thread keeps these runs light and their time steady; results are not
compared across thread counts.
"""
import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
