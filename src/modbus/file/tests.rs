use super::*;

fn parse(text: &str) -> Result<Parsed, String> {
    alone(text, "t.toml")
}

#[test]
fn blocks_give_values_per_address_and_units_their_own() {
    let parsed = parse(
        r#"
[[modbus.holding_registers]]
address = 0
values = [215, 420]

[[modbus.holding_registers]]
name = "setpoints"
address = 10
count = 3
value = 7
max = 100

[[modbus.coils]]
address = 0
values = [true, 0, 1]

[[modbus.unit.2.input_registers]]
address = 5
"#,
    )
    .unwrap();
    let default = parsed.default.unwrap();
    assert_eq!(default.holding.get(1), Some(420));
    assert_eq!(default.holding.get(12), Some(7));
    assert_eq!(default.holding.get(13), None);
    assert_eq!(default.coils.get(2), Some(true));
    assert_eq!(default.coils.get(1), Some(false));
    assert_eq!(parsed.units.len(), 1);
    assert_eq!(parsed.units[0].0, 2);
    assert_eq!(parsed.units[0].1.input.get(5), Some(0));
}

#[test]
fn mistakes_name_the_line_and_say_what_to_do() {
    let cases = [
        (
            "[[modbus.holding_registers]]\naddress = 0\nvalues = [70000]\n",
            "t.toml:1:1: [modbus] holding_registers block 1: values[0]: 70000 does not fit a register",
        ),
        (
            "[[modbus.holding_registers]]\naddress = 0\ncount = 4\n\n[[modbus.holding_registers]]\naddress = 3\n",
            "t.toml:5:1: [modbus] holding_registers: the block at address 3 overlaps the one at 0..3",
        ),
        (
            "[[modbus.coils]]\naddress = 0\nmax = 3\n",
            "min and max are for registers",
        ),
        (
            "[[modbus.input_registers]]\naddress = 0\nread_only = true\n",
            "read_only is for coils and holding registers",
        ),
        (
            "[[modbus.holding_registers]]\naddress = 65535\ncount = 2\n",
            "2 addresses from 65535 pass the last address",
        ),
        (
            "[[modbus.holding_registers]]\naddress = 0\nvalue = 5\nmin = 10\n",
            "the value at address 0 (5) is outside min..max (10..65535)",
        ),
        (
            "[[modbus.holding_registers]]\naddress = 0\nvalues = [1, 2]\ncount = 3\n",
            "count is 3 but values has 2",
        ),
        (
            "[[modbus.holding_registers]]\naddress = 0\n\n[[modbus.holding_registers]]\naddress = 1\ncount = 2\nfollows = \"global.temp\"\n",
            "t.toml:4:1: [modbus] holding_registers block 2: follows = \"global.temp\" shows one variable in one register, but the block has 2 addresses: give it count = 1",
        ),
        (
            "[[modbus.holding_registers]]\naddress = 0\nfollows = \"conn.temp\"\n",
            "a register follows a global variable, written global.NAME",
        ),
        (
            "[[modbus.coils]]\naddress = 0\nfollows = \"global.on\"\n",
            "only a register may follow a variable",
        ),
        (
            "[[modbus.unit.300.coils]]\naddress = 0\n",
            "a unit id is a number from 0 to 255",
        ),
        (
            "[[modbus.holding_register]]\naddress = 0\n",
            "unknown field `holding_register`",
        ),
        ("[modbus]\n", "the [modbus] table is empty"),
        (
            "[[rule]]\nexact = \"a\"\nreply = \"b\"\n",
            "unknown field `rule`",
        ),
        ("", "has no [modbus] table"),
    ];
    for (text, expected) in cases {
        let error = parse(text).unwrap_err();
        assert!(error.contains(expected), "{text:?}: {error}");
    }
}

#[test]
fn a_rules_file_may_have_a_table_or_not() {
    let rules = "[[rule]]\nexact = \"a\"\nreply = \"b\"\n";
    assert_eq!(in_rules(rules, "r.toml"), Ok(None));
    let both = format!("{rules}\n[[modbus.coils]]\naddress = 3\n");
    let parsed = in_rules(&both, "r.toml").unwrap().unwrap();
    assert_eq!(parsed.default.unwrap().coils.get(3), Some(false));
}
