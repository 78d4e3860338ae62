@v5
Feature: 5.0 will properties: forwarded unaltered, user properties in order, the will delay stripped
  The will's Payload Format Indicator, Content Type, Response Topic and Correlation Data reach
  subscribers unaltered (3.1.3.2.3-7; MQTT-3.3.2-4, -15, -16, -20), its User Properties in their order
  (MQTT-3.1.3-10), its Message Expiry Interval as the time left (3.1.3.2.4, MQTT-3.3.2-5/-6), and never
  the Will Delay Interval, which is not a PUBLISH property. Each of these properties but User Property
  is a Protocol Error when given twice; the broker MAY check a will payload flagged as UTF-8 (0x99).

  Background:
    Given sensor "sensor1" with will "offline" on "clients/sensor1/status" at QoS 1
    And actuator "actuator1" subscribed to "clients/+/status" at QoS 1

  @MQTT-3.3.2-20 @must @mutant-will-property-dropped
  Scenario: The will's Content Type is forwarded unaltered
    Given the will of "sensor1" has content type "text/plain"
    And "sensor1" is connected
    When "sensor1" closes its connection
    Then "actuator1" receives "offline" on "clients/sensor1/status" within 1 second
    And the delivered will carries content-type "text/plain"

  @MQTT-3.3.2-4 @must
  Scenario: The will's Payload Format Indicator is forwarded unaltered
    Given the will of "sensor1" has payload format indicator 1
    And "sensor1" is connected
    When "sensor1" closes its connection
    Then "actuator1" receives "offline" on "clients/sensor1/status" within 1 second
    And the delivered will carries payload-format-indicator "1"

  @MQTT-3.3.2-15 @must
  Scenario: The will's Response Topic is forwarded unaltered
    Given the will of "sensor1" has response topic "clients/sensor1/reply"
    And "sensor1" is connected
    When "sensor1" closes its connection
    Then "actuator1" receives "offline" on "clients/sensor1/status" within 1 second
    And the delivered will carries response-topic "clients/sensor1/reply"

  @MQTT-3.3.2-16 @must
  Scenario: The will's Correlation Data is forwarded unaltered
    Given the will of "sensor1" has correlation data "req-42"
    And "sensor1" is connected
    When "sensor1" closes its connection
    Then "actuator1" receives "offline" on "clients/sensor1/status" within 1 second
    And the delivered will carries correlation-data "req-42"

  @MQTT-3.1.3-10 @must @mutant-user-property-order-changed @quick
  Scenario: The will's User Properties are forwarded in their order, a repeated name included
    Given the will of "sensor1" has user property "k1" = "a"
    And the will of "sensor1" has user property "k2" = "b"
    And the will of "sensor1" has user property "k1" = "c"
    And the will of "sensor1" has user property "k3" = "d"
    And "sensor1" is connected
    When "sensor1" closes its connection
    Then "actuator1" receives "offline" on "clients/sensor1/status" within 1 second
    And the delivered will carries user properties "k1=a, k2=b, k1=c, k3=d"

  @MQTT-3.3.2-20 @must @mutant-will-property-dropped @quick
  Scenario: Every will property at once, Content Type first: all forwarded, the Will Delay Interval stripped
    mosquitto #1244: a crash when the first will property was Content Type, PFI, Response Topic or
    Correlation Data; mosquitto 07-will-properties strips the Will Delay Interval.
    Given the will of "sensor1" has content type "application/json"
    And the will of "sensor1" has payload format indicator 1
    And the will of "sensor1" has response topic "clients/sensor1/reply"
    And the will of "sensor1" has correlation data "c-1"
    And the will of "sensor1" has user property "site" = "north"
    And the will of "sensor1" has delay 0 seconds
    And "sensor1" is connected
    When "sensor1" closes its connection
    Then "actuator1" receives "offline" on "clients/sensor1/status" within 1 second
    And the delivered will carries content-type "application/json"
    And the delivered will carries payload-format-indicator "1"
    And the delivered will carries response-topic "clients/sensor1/reply"
    And the delivered will carries correlation-data "c-1"
    And the delivered will carries user properties "site=north"
    And the delivered will carries no will delay interval

  @MQTT-3.3.2-6 @must
  Scenario: The will's Message Expiry Interval reaches an online subscriber
    Given the will of "sensor1" has message expiry 10 seconds
    And "sensor1" is connected
    When "sensor1" closes its connection
    Then "actuator1" receives "offline" on "clients/sensor1/status" within 1 second
    And the delivered will carries a message expiry of at most 10 seconds

  @MQTT-3.3.2-6 @must
  Scenario: A will queued for an offline subscriber carries the expiry time left
    Given actuator "actuator2" with a persistent session subscribed to "clients/+/status" at QoS 1
    And the will of "sensor1" has message expiry 10 seconds
    And "sensor1" is connected
    When actuator "actuator2" goes offline
    And 0.2 seconds pass
    And "sensor1" closes its connection
    And 2 seconds pass
    And actuator "actuator2" comes back
    Then "actuator2" receives "offline" on "clients/sensor1/status" within 3 seconds
    And the delivered will carries a message expiry of at most 9 seconds

  @MQTT-3.3.2-5 @must
  Scenario: A will whose message expiry passed while the subscriber was offline is not delivered
    Given actuator "actuator2" with a persistent session subscribed to "clients/+/status" at QoS 1
    And the will of "sensor1" has message expiry 1 second
    And "sensor1" is connected
    When actuator "actuator2" goes offline
    And 0.2 seconds pass
    And "sensor1" closes its connection
    And 2.5 seconds pass
    And actuator "actuator2" comes back
    Then "actuator2" receives nothing on "clients/+/status" for 4 seconds

  @MQTT-3.1.4-1 @must
  Scenario Outline: A will property given twice (<property>) is a Protocol Error: refused, nothing published
    Given the will of "sensor1" has <property>
    And the will of "sensor1" has <property>
    When "sensor1" tries to connect
    Then "sensor1" is refused with reason code 0x82 or disconnected without CONNACK
    And "actuator1" receives nothing on "clients/+/status" for 1 second

    Examples:
      | property                     |
      | content type "text/plain"    |
      | payload format indicator 1   |
      | response topic "r"           |
      | correlation data "c"         |
      | message expiry 10 seconds    |

  @MQTT-3.1.3-10 @must
  Scenario: User Property is the one will property that may repeat: the same pair twice is forwarded twice
    Given the will of "sensor1" has user property "k" = "v"
    And the will of "sensor1" has user property "k" = "v"
    And "sensor1" is connected
    When "sensor1" closes its connection
    Then "actuator1" receives "offline" on "clients/sensor1/status" within 1 second
    And the delivered will carries user properties "k=v, k=v"

  @MQTT-3.1.4-1 @may
  Scenario: Payload Format Indicator 1 with a will payload that is not UTF-8 MAY be refused with 0x99
    Given the will of "sensor1" has payload format indicator 1
    And the will of "sensor1" has a payload that is not UTF-8
    When "sensor1" tries to connect
    Then "sensor1" is refused with reason code 0x99
