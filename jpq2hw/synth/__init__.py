"""`jpq2hw synth`: run the Xilinx tools on a project made by `jpq2hw build` (issue 7).

project.py  what a build folder holds (report.json, board/stream.json, vectors/) -> SynthProject
words.py    AXI-Stream word packing (templates/deploy/stream_words.py, shared with the PYNQ driver) + harness ROMs
plan.py     the tool steps of a stage (commands, env, logs, what each must produce), local and Docker command lines
runner.py   runs the steps, streams their logs, parses the synthesis report into report.json"""
