# Framework-only app: no tables of its own yet.
