"""Activities, versions and aliases, and tags, through boto3."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from tests.api.test_api import ROLE, create, fails, name, wait

ACTIVITY_MACHINE = {
    "StartAt": "Work",
    "States": {
        "Work": {
            "Type": "Task",
            "Resource": "ARN",
            "TimeoutSeconds": 60,
            "HeartbeatSeconds": 30,
            "ResultPath": "$.result",
            "End": True,
        }
    },
}


def activity_machine(sfn: Any, activity_arn: str, **overrides: Any) -> str:
    definition = json.loads(json.dumps(ACTIVITY_MACHINE).replace('"ARN"', json.dumps(activity_arn)))
    definition["States"]["Work"].update(overrides)
    return create(sfn, definition)


def test_activities_create_describe_list_delete(sfn: Any) -> None:
    activity_name = name()
    created = sfn.create_activity(name=activity_name, tags=[{"key": "team", "value": "risk"}])
    assert created["activityArn"].endswith(f":activity:{activity_name}")
    assert sfn.create_activity(name=activity_name)["activityArn"] == created["activityArn"]  # idempotent
    described = sfn.describe_activity(activityArn=created["activityArn"])
    assert described["name"] == activity_name and described["creationDate"]
    listed = [a["activityArn"] for page in sfn.get_paginator("list_activities").paginate() for a in page["activities"]]
    assert created["activityArn"] in listed
    assert sfn.list_tags_for_resource(resourceArn=created["activityArn"])["tags"] == [{"key": "team", "value": "risk"}]
    sfn.delete_activity(activityArn=created["activityArn"])
    fails(sfn.describe_activity, "ActivityDoesNotExist", activityArn=created["activityArn"])
    fails(sfn.get_activity_task, "ActivityDoesNotExist", activityArn=created["activityArn"])
    fails(sfn.create_activity, "InvalidName", name="no spaces allowed")


def test_an_activity_worker_polls_works_and_answers(sfn: Any) -> None:
    activity = sfn.create_activity(name=name())["activityArn"]
    machine = activity_machine(sfn, activity)
    execution = sfn.start_execution(stateMachineArn=machine, input='{"applicant": "a-1"}')["executionArn"]
    task = sfn.get_activity_task(activityArn=activity, workerName="worker-7")
    assert task["taskToken"] and json.loads(task["input"]) == {"applicant": "a-1"}
    sfn.send_task_heartbeat(taskToken=task["taskToken"])
    sfn.send_task_success(taskToken=task["taskToken"], output='{"score": 720}')
    described = wait(sfn, execution)
    assert json.loads(described["output"]) == {"applicant": "a-1", "result": {"score": 720}}
    events = sfn.get_execution_history(executionArn=execution)["events"]
    types = [e["type"] for e in events]
    assert types[2:5] == ["ActivityScheduled", "ActivityStarted", "ActivitySucceeded"]
    assert events[3]["activityStartedEventDetails"]["workerName"] == "worker-7"
    assert events[2]["activityScheduledEventDetails"]["heartbeatInSeconds"] == 30


def test_get_activity_task_long_polls_until_a_task_arrives(sfn: Any) -> None:
    activity = sfn.create_activity(name=name())["activityArn"]
    machine = activity_machine(sfn, activity)
    got: dict[str, Any] = {}

    def poll() -> None:
        got.update(sfn.get_activity_task(activityArn=activity))

    poller = threading.Thread(target=poll)
    started = time.monotonic()
    poller.start()
    time.sleep(1.5)
    assert poller.is_alive()  # still waiting: nothing was scheduled yet
    execution = sfn.start_execution(stateMachineArn=machine)["executionArn"]
    poller.join(timeout=30)
    assert got.get("taskToken"), got
    assert time.monotonic() - started < 30
    sfn.send_task_failure(taskToken=got["taskToken"], error="Worker.Crashed", cause="out of memory")
    described = wait(sfn, execution)
    assert (described["status"], described["error"]) == ("FAILED", "Worker.Crashed")


def test_an_activity_task_nobody_heartbeats_times_out(sfn: Any) -> None:
    activity = sfn.create_activity(name=name())["activityArn"]
    machine = activity_machine(sfn, activity, HeartbeatSeconds=1, TimeoutSeconds=30)
    execution = sfn.start_execution(stateMachineArn=machine)["executionArn"]
    task = sfn.get_activity_task(activityArn=activity)
    described = wait(sfn, execution, timeout=20)
    assert (described["status"], described["error"]) == ("FAILED", "States.Timeout")  # as AWS records it
    fails(sfn.send_task_success, "TaskTimedOut", taskToken=task["taskToken"], output="{}")


def test_versions_and_aliases(sfn: Any) -> None:
    one = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": "v1", "End": True}}}
    two = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": "v2", "End": True}}}
    machine = create(sfn, one, publish=True)
    versions = sfn.list_state_machine_versions(stateMachineArn=machine)["stateMachineVersions"]
    assert [v["stateMachineVersionArn"] for v in versions] == [f"{machine}:1"]
    sfn.update_state_machine(stateMachineArn=machine, definition=json.dumps(two))
    v2 = sfn.publish_state_machine_version(stateMachineArn=machine, description="second")["stateMachineVersionArn"]
    assert v2 == f"{machine}:2"
    assert sfn.publish_state_machine_version(stateMachineArn=machine)["stateMachineVersionArn"] == v2  # no change
    assert json.loads(sfn.describe_state_machine(stateMachineArn=f"{machine}:1")["definition"]) == one
    by_version = sfn.start_execution(stateMachineArn=f"{machine}:1")["executionArn"]
    described = wait(sfn, by_version)
    assert json.loads(described["output"]) == "v1" and described["stateMachineVersionArn"] == f"{machine}:1"

    alias = sfn.create_state_machine_alias(
        name="live", routingConfiguration=[{"stateMachineVersionArn": f"{machine}:1", "weight": 100}]
    )["stateMachineAliasArn"]
    assert alias == f"{machine}:live"
    by_alias = wait(sfn, sfn.start_execution(stateMachineArn=alias)["executionArn"])
    assert json.loads(by_alias["output"]) == "v1" and by_alias["stateMachineAliasArn"] == alias
    sfn.update_state_machine_alias(
        stateMachineAliasArn=alias, routingConfiguration=[{"stateMachineVersionArn": v2, "weight": 100}]
    )
    assert json.loads(wait(sfn, sfn.start_execution(stateMachineArn=alias)["executionArn"])["output"]) == "v2"
    described_alias = sfn.describe_state_machine_alias(stateMachineAliasArn=alias)
    assert described_alias["routingConfiguration"] == [{"stateMachineVersionArn": v2, "weight": 100}]
    assert [
        a["stateMachineAliasArn"]
        for a in sfn.list_state_machine_aliases(stateMachineArn=machine)["stateMachineAliases"]
    ] == [alias]
    fails(sfn.delete_state_machine_version, "ConflictException", stateMachineVersionArn=v2)
    fails(
        sfn.create_state_machine_alias,
        "ValidationException",
        name="half",
        routingConfiguration=[{"stateMachineVersionArn": v2, "weight": 50}],
    )
    sfn.delete_state_machine_alias(stateMachineAliasArn=alias)
    fails(sfn.describe_state_machine_alias, "ResourceNotFound", stateMachineAliasArn=alias)
    sfn.delete_state_machine_version(stateMachineVersionArn=f"{machine}:1")
    fails(sfn.describe_state_machine, "StateMachineDoesNotExist", stateMachineArn=f"{machine}:1")


def test_tags(sfn: Any) -> None:
    machine = create(sfn, tags=[{"key": "a", "value": "1"}])
    sfn.tag_resource(resourceArn=machine, tags=[{"key": "b", "value": "2"}, {"key": "a", "value": "3"}])
    assert sfn.list_tags_for_resource(resourceArn=machine)["tags"] == [
        {"key": "a", "value": "3"},
        {"key": "b", "value": "2"},
    ]
    sfn.untag_resource(resourceArn=machine, tagKeys=["a"])
    assert sfn.list_tags_for_resource(resourceArn=machine)["tags"] == [{"key": "b", "value": "2"}]
    fails(
        sfn.tag_resource, "TooManyTags", resourceArn=machine, tags=[{"key": f"k{i}", "value": "v"} for i in range(60)]
    )
    fails(
        sfn.list_tags_for_resource,
        "ResourceNotFound",
        resourceArn="arn:aws:states:us-east-1:123456789012:stateMachine:ghost",
    )
    fails(
        sfn.create_state_machine,
        "ValidationException",
        name=name(),
        roleArn=ROLE,
        definition=json.dumps({"StartAt": "A", "States": {"A": {"Type": "Succeed"}}}),
        tags=[{"key": "aws:reserved", "value": "x"}],
    )


def test_nested_executions(sfn: Any) -> None:
    child = create(
        sfn,
        {
            "StartAt": "Double",
            "States": {"Double": {"Type": "Pass", "Parameters": {"n.$": "States.MathAdd($.n, $.n)"}, "End": True}},
        },
    )
    failing = create(sfn, {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Child.Broke", "Cause": "oops"}}})

    def parent(resource: str) -> str:
        return create(
            sfn,
            {
                "StartAt": "Call",
                "States": {
                    "Call": {
                        "Type": "Task",
                        "Resource": f"arn:aws:states:::states:{resource}",
                        "Parameters": {"StateMachineArn.$": "$.machine", "Input": {"n": 21}},
                        "End": True,
                    }
                },
            },
        )

    started = wait(
        sfn,
        sfn.start_execution(stateMachineArn=parent("startExecution"), input=json.dumps({"machine": child}))[
            "executionArn"
        ],
    )
    response = json.loads(started["output"])
    assert response["ExecutionArn"].startswith(child.replace(":stateMachine:", ":execution:"))
    assert wait(sfn, response["ExecutionArn"])["status"] == "SUCCEEDED"

    sync2 = json.loads(
        wait(
            sfn,
            sfn.start_execution(stateMachineArn=parent("startExecution.sync:2"), input=json.dumps({"machine": child}))[
                "executionArn"
            ],
        )["output"]
    )
    assert sync2["Output"] == {"n": 42} and sync2["Status"] == "SUCCEEDED" and sync2["Input"] == {"n": 21}
    sync = json.loads(
        wait(
            sfn,
            sfn.start_execution(stateMachineArn=parent("startExecution.sync"), input=json.dumps({"machine": child}))[
                "executionArn"
            ],
        )["output"]
    )
    assert json.loads(sync["Output"]) == {"n": 42}

    broken = wait(
        sfn,
        sfn.start_execution(stateMachineArn=parent("startExecution.sync"), input=json.dumps({"machine": failing}))[
            "executionArn"
        ],
    )
    assert broken["status"] == "FAILED" and broken["error"] == "States.TaskFailed"
    assert json.loads(broken["cause"])["Error"] == "Child.Broke"

    missing = wait(
        sfn,
        sfn.start_execution(
            stateMachineArn=parent("startExecution"),
            input=json.dumps({"machine": "arn:aws:states:us-east-1:123456789012:stateMachine:ghost"}),
        )["executionArn"],
    )
    assert missing["error"] == "StepFunctions.StateMachineDoesNotExistException"

    slow = create(sfn, {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 300, "End": True}}})
    waiting = sfn.start_execution(stateMachineArn=parent("startExecution.sync:2"), input=json.dumps({"machine": slow}))[
        "executionArn"
    ]
    time.sleep(1)
    children = sfn.list_executions(stateMachineArn=slow)["executions"]
    assert len(children) == 1 and children[0]["status"] == "RUNNING"
    sfn.stop_execution(executionArn=waiting)
    assert wait(sfn, children[0]["executionArn"])["status"] == "ABORTED"


def test_distributed_map_runs(sfn: Any) -> None:
    machine = create(
        sfn,
        {
            "StartAt": "Each",
            "States": {
                "Each": {
                    "Type": "Map",
                    "MaxConcurrency": 1,
                    "Label": "scores",
                    "ToleratedFailureCount": 1,
                    "End": True,
                    "ItemProcessor": {
                        "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                        "StartAt": "Slow",
                        "States": {"Slow": {"Type": "Wait", "Seconds": 1, "End": True}},
                    },
                }
            },
        },
    )
    execution = sfn.start_execution(stateMachineArn=machine, input=json.dumps([1, 2, 3, 4]))["executionArn"]
    time.sleep(0.5)
    runs = sfn.list_map_runs(executionArn=execution)["mapRuns"]
    assert len(runs) == 1 and ":mapRun:" in runs[0]["mapRunArn"] and "/scores:" in runs[0]["mapRunArn"]
    arn = runs[0]["mapRunArn"]
    running = sfn.describe_map_run(mapRunArn=arn)
    assert running["status"] == "RUNNING" and running["maxConcurrency"] == 1
    assert running["itemCounts"]["total"] == 4 and running["itemCounts"]["running"] == 1
    # The model sets no maximum; a 32-bit column does (and a 500 would be the answer past it)
    for member in ("maxConcurrency", "toleratedFailureCount"):
        fails(sfn.update_map_run, "ValidationException", mapRunArn=arn, **{member: 2**31})
    sfn.update_map_run(mapRunArn=arn, maxConcurrency=4)
    assert json.loads(wait(sfn, execution)["output"]) == [1, 2, 3, 4]
    done = sfn.describe_map_run(mapRunArn=arn)
    assert done["status"] == "SUCCEEDED" and done["itemCounts"]["succeeded"] == 4 and done["stopDate"]
    iterations = sfn.list_executions(mapRunArn=arn)["executions"]
    assert len(iterations) == 4 and all(e["status"] == "SUCCEEDED" for e in iterations)
    history = sfn.get_execution_history(executionArn=iterations[0]["executionArn"])["events"]
    assert [e["type"] for e in history][:2] == ["WaitStateEntered", "WaitStateExited"]
    fails(sfn.update_map_run, "ValidationException", mapRunArn=arn, maxConcurrency=2)
