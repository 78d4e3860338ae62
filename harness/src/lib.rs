//! `lwt-harness`: the scenario engine (filled by the "Scenario engine" issue).
