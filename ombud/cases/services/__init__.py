"""Every write to a case, by topic. Each function checks permission, runs in
one transaction, writes its audit event and schedules side effects on commit.

- `submit`: filing a report and sealing its key for the team
- `keys`: opening a case key and decrypting what a case holds
- `messages`: the two-way thread with the reporter
- `mail`: a case's mail identity (secret tag, thread references)
- `workflow`: status, acknowledgement, assignment, flags, notes, meetings, recusal
- `decisions`: decisions from the catalog, the two-person rule, appeals
- `reported`: messages to the reported person
- `grants`: giving a team member access to cases
- `recovery`: the organisation's recovery kit and its rotation
- `team`: what leaving the team, or losing one's key, does to cases
- `base`: the checks the others share
"""
