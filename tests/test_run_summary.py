"""nerfspec.train.run_summary: the line training starts with, from what run_info.json records."""

from nerfspec.train.run_summary import start_line

INFO = {"encoding": "gauss", "parameters": 431492, "device": "cpu", "device_name": "AMD EPYC", "precision": "fp32",
        "threads": 2, "kernels": "torch", "dataset": {"train_views": 4, "width": 16, "height": 12, "root": "sc"}}


def test_start_line_says_what_trains_on_what():
    assert start_line(INFO) == ("training gauss (431,492 parameters) on cpu (AMD EPYC), fp32, 2 threads, torch "
                                "kernels; 4 views of 16x12 from sc")
    assert start_line(INFO, "object scene").endswith("from sc; object scene")
