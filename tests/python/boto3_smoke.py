"""Drives the local Connect emulator with boto3, the real AWS client.

Usage: boto3_smoke.py ENDPOINT_URL INSTANCE_ID CONTACT_ID

1. update_contact_attributes with the AWS documentation example credentials: HTTP 200.
2. the same call signed with a wrong secret: ClientError, HTTP 403, InvalidSignatureException.
3. service-quotas list_service_quotas for connect: the UpdateContactAttributes rate quota.
Exits non-zero, saying which step failed, on any surprise.
"""

import sys

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

AKID = "AKIDEXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
QUOTA_NAME = "Rate of UpdateContactAttributes API requests"


def client(service, endpoint, secret):
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=AKID,
        aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 1, "mode": "standard"}),
    )


def main(endpoint, instance, contact):
    connect = client("connect", endpoint, SECRET)
    answer = connect.update_contact_attributes(
        InstanceId=instance,
        InitialContactId=contact,
        Attributes={"Tier": "gold", "Reason": "boto3 smoke"},
    )
    status = answer["ResponseMetadata"]["HTTPStatusCode"]
    if status != 200:
        sys.exit(f"step 1: expected HTTP 200, got {status}")

    try:
        client("connect", endpoint, SECRET + "wrong").update_contact_attributes(
            InstanceId=instance, InitialContactId=contact, Attributes={"Tier": "lead"}
        )
        sys.exit("step 2: a wrong secret was accepted")
    except ClientError as error:
        status = error.response["ResponseMetadata"]["HTTPStatusCode"]
        code = error.response["Error"]["Code"]
        if (status, code) != (403, "InvalidSignatureException"):
            sys.exit(f"step 2: expected 403 InvalidSignatureException, got {status} {code}")

    quotas = client("service-quotas", endpoint, SECRET).list_service_quotas(ServiceCode="connect")["Quotas"]
    values = [q["Value"] for q in quotas if q["QuotaName"] == QUOTA_NAME]
    if not values:
        sys.exit(f"step 3: no quota named {QUOTA_NAME!r} in {quotas}")
    print(f"ok rate={values[0]}")


if __name__ == "__main__":
    main(*sys.argv[1:4])
