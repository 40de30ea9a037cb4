"""The reference client for the end-to-end benchmark: boto3 (the AWS SDK for Python) with adaptive
retries and a thread pool, sending UpdateContactAttributes for N contacts to the emulator as fast as
its retry mode lets it. Prints one JSON line: {"sent": N, "ok": n, "failed": f, "seconds": s}.

Usage: boto3_load.py ENDPOINT_URL N THREADS
"""

import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError


def main(endpoint, count, threads):
    client = boto3.client(
        "connect",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        config=Config(retries={"mode": "adaptive", "max_attempts": 10}, max_pool_connections=threads),
    )

    def update(i):
        try:
            client.update_contact_attributes(
                InstanceId="bench-instance",
                InitialContactId=f"boto3-{i:08d}",
                Attributes={"CustomerTier": "Gold", "OpenCases": str(i % 5), "LastOrderId": f"ORD-{i}"},
            )
            return True
        except ClientError:
            return False

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        results = list(pool.map(update, range(count)))
    seconds = time.monotonic() - started
    ok = sum(results)
    print(json.dumps({"sent": count, "ok": ok, "failed": count - ok, "seconds": seconds}))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
