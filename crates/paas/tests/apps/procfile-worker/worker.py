"""A worker that does one round of work and says so, with the GREETING config var."""
import os
import sys

print("worker: round done, args={}, GREETING={}".format(sys.argv[1:], os.environ.get("GREETING", "")))
