use mqtt5_protocol as _;
#[test]
fn t(){}
