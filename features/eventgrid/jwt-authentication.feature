@eventgrid @tls @v5
Feature: The Event Grid Last Will walkthrough with JWT clients (custom JWT authentication)
  The walkthrough again, with clients that authenticate with a JSON Web Token instead of a
  certificate: MQTT 5 Authentication Method CUSTOM-JWT, the token as Authentication Data, `sub` as
  the authentication name and the `type` claim as the attribute the walkthrough's groups select
  on. `lwt-harness init eventgrid-lwt` writes the issuer (jwt/issuer.*) into the namespace's
  customJwtAuthentication and tokens for jwt-sensor1 and jwt-actuator1 (jwt/<name>.jwt), which
  they present; the steps below mint others with the same issuer. Event Grid requires iss, sub,
  aud, exp and nbf and re-authentication with AUTH reason 0x19; what it leaves open (refusal
  codes, what happens when a token expires) is the reference broker's reading:
  fixtures/namespaces/README.md, "JWT authentication".

  Background:
    Given the Event Grid walkthrough namespace
    And actuator "jwt-actuator1" subscribed to "clients/+/status" at QoS 1
    And sensor "jwt-sensor1" with will "offline" on "clients/jwt-sensor1/status" at QoS 1

  @must @EG-JWT-authentication
  Scenario: A sensor that connects with a token has its will delivered to a token actuator
    Given "jwt-sensor1" is connected
    Then the life-cycle event for "jwt-sensor1" says "Connected"
    When "jwt-sensor1" resets its connection
    Then "jwt-actuator1" receives "offline" on "clients/jwt-sensor1/status" within 2 seconds
    And the life-cycle event for "jwt-sensor1" says "ConnectionLost"

  @must @EG-JWT-authentication
  Scenario: A token client that disconnects normally sends no will
    Given "jwt-sensor1" is connected
    When "jwt-sensor1" disconnects normally
    Then "jwt-actuator1" receives nothing on "clients/+/status" for 1 second
    And the life-cycle event for "jwt-sensor1" says "ClientInitiatedDisconnect"

  @must @EG-JWT-token-validation
  Scenario: An expired token is refused and its will never armed
    Given "jwt-sensor1" presents a token that expired 3600 seconds ago
    When "jwt-sensor1" tries to connect
    Then "jwt-sensor1" is refused with reason code 0x86 or disconnected without CONNACK
    And "jwt-actuator1" receives nothing on "clients/+/status" for 1 second

  @must @EG-JWT-token-validation
  Scenario: A token signed by a key the namespace does not trust is refused
    Given "jwt-sensor1" presents a token signed by a key the namespace does not trust
    When "jwt-sensor1" tries to connect
    Then "jwt-sensor1" is not accepted

  @must @EG-JWT-token-validation
  Scenario: A token for another namespace is refused
    Given "jwt-sensor1" presents a token for audience "other.westus2-1.ts.eventgrid.azure.net"
    When "jwt-sensor1" tries to connect
    Then "jwt-sensor1" is not accepted

  @must @EG-JWT-reauthentication
  Scenario: Re-authentication with a fresh token keeps the connection and its will
    Given "jwt-sensor1" presents a token valid for 3 seconds
    And "jwt-sensor1" is connected
    When "jwt-sensor1" re-authenticates with a token valid for 3600 seconds
    Then the re-authentication of "jwt-sensor1" is accepted
    And "jwt-actuator1" receives nothing on "clients/+/status" for 5 seconds
    When "jwt-sensor1" resets its connection
    Then "jwt-actuator1" receives "offline" on "clients/jwt-sensor1/status" within 2 seconds

  @must @reference-choice @EG-JWT-expiry
  Scenario: A token that expires without re-authentication ends the connection, and the will follows
    Given "jwt-sensor1" presents a token valid for 2 seconds
    And "jwt-sensor1" is connected
    Then the broker ends the connection of "jwt-sensor1" with DISCONNECT 0xA0 when its token expires
    And "jwt-actuator1" receives "offline" on "clients/jwt-sensor1/status" within 2 seconds
    And the life-cycle event for "jwt-sensor1" says "ClientAuthenticationError"
