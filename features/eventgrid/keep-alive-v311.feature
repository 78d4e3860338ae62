@reference-only @reference-choice
Feature: MQTT 3.1.1 keep-alive above the broker's maximum is capped, not unbounded (issue 12)
  Event Grid documents a Keep Alive maximum of 1,160 s for MQTT 3.1.1 as well as 5.0, but 3.1.1
  has no Server Keep Alive to announce a lower value. The reference broker accepts the CONNECT and
  enforces the maximum instead of the requested value (0 included), so the connection ends, and
  a will fires, at most 1.5 × the maximum after the last packet (fixtures/namespaces/README.md).
  A 2-second maximum stands in for 1,160 s so the scenario does not take half an hour.

  Background:
    Given a reference broker configured with "keep_alive_max: 2"
    And sensor "sensor1" with will "offline" on "clients/sensor1/status" at QoS 1
    And "sensor1" speaks MQTT 3.1.1

  @v311 @should
  Scenario: A 3.1.1 keep-alive of 0 is held to the maximum
    Given "sensor1" has keep-alive 0 seconds
    When "sensor1" connects
    And "sensor1" goes silent
    Then the broker closes the connection of "sensor1"

  @v311 @should
  Scenario: A 3.1.1 keep-alive above the maximum is held to the maximum
    Given "sensor1" has keep-alive 1161 seconds
    When "sensor1" connects
    And "sensor1" goes silent
    Then the broker closes the connection of "sensor1"
