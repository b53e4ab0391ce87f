#!/usr/bin/env python3
"""dfagent start -> its 'dfagent ready' line, N times: wall seconds and the agent's CPU seconds
(user+system from /proc/PID/stat) at that moment. The agent is stopped (SIGTERM, by PID) each time.
Usage: agent-ready.py DFAGENT BROKER_GRPC BROKER_MQTT WORKDIR [RUNS]"""
import os, shutil, signal, subprocess, sys, time, statistics

dfagent, grpc, mqtt, work = sys.argv[1:5]
runs = int(sys.argv[5]) if len(sys.argv) > 5 else 5
ticks = os.sysconf("SC_CLK_TCK")
walls, cpus = [], []
for i in range(runs):
    data = os.path.join(work, f"agent-ready-{i}")
    shutil.rmtree(data, ignore_errors=True)
    start = time.monotonic()
    p = subprocess.Popen([dfagent, "--insecure", "--broker", f"127.0.0.1:{grpc}", "--mqtt", f"127.0.0.1:{mqtt}", "--data-dir", data,
                          "--listen", "127.0.0.1", "--peer-port", "0", "--proxy-port", "0", "--http-port", "0"],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in p.stdout:
        if line.startswith("dfagent ready"):
            break
    wall = time.monotonic() - start
    with open(f"/proc/{p.pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / ticks
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=30)
    shutil.rmtree(data, ignore_errors=True)
    walls.append(wall)
    cpus.append(cpu)
print(f"dfagent start -> ready line: wall median {statistics.median(walls):.3f} s (min {min(walls):.3f}), "
      f"CPU median {statistics.median(cpus):.2f} s over {runs} runs; walls {' '.join(f'{w:.3f}' for w in walls)}")
