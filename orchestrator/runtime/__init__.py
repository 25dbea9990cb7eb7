"""The durable runtime: Celery carries the messages, the database holds the truth.

- `app`: the Celery application, configured from the environment;
- `tasks`: the Celery tasks (thin: open a transaction, call `operations`, publish after commit);
- `operations`: the transactions (start, advance, complete a task token, stop, time out, timers);
- `driver`: stepping an execution's tree inside one transaction;
- `publish`: sending messages after commit, and the outbox sweeper;
- `scheduler`: firing due timers and sweeping the outbox;
- `embedded`: a worker and a scheduler inside the current process (the embedded default).
"""
