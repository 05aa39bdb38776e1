//! The `[modbus]` table as people write it, in a rules file or a file of
//! its own (`--modbus FILE`): blocks of consecutive addresses with their
//! first values, per area, for the default unit and for `[modbus.unit.N]`.
//! Everything is checked here, at start, and a mistake names the file,
//! line and column.

use std::collections::BTreeMap;
use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;

use super::unit::{Area, Block, Values};

/// A rules file: its `[modbus]` section, if any; the rules are `rules/`'s.
#[derive(Deserialize)]
struct InRules {
    modbus: Option<RawUnit>,
}

/// A `--modbus FILE`: nothing but `[modbus]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Alone {
    modbus: Option<RawUnit>,
}

/// `[modbus]` itself (the default unit) or one `[modbus.unit.N]`.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawUnit {
    #[serde(default)]
    coils: Vec<Spanned<RawBlock>>,
    #[serde(default)]
    discrete_inputs: Vec<Spanned<RawBlock>>,
    #[serde(default)]
    holding_registers: Vec<Spanned<RawBlock>>,
    #[serde(default)]
    input_registers: Vec<Spanned<RawBlock>>,
    /// Only under `[modbus]`: `[modbus.unit.N]`, keyed by the unit id's text.
    #[serde(default)]
    unit: BTreeMap<String, Spanned<RawUnit>>,
}

/// One `[[modbus.holding_registers]]` (or coils, ...) block.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBlock {
    /// For the reader of the file and its error messages.
    name: Option<String>,
    /// The first address, as on the wire (0-based).
    address: u16,
    /// How many addresses; without it, as many as `values`, or 1.
    count: Option<u32>,
    /// The same first value at every address.
    value: Option<toml::Value>,
    /// A first value per address.
    values: Option<Vec<toml::Value>>,
    min: Option<u16>,
    max: Option<u16>,
    #[serde(default)]
    read_only: bool,
    /// `global.NAME`: the register shows that rules' variable (count 1 only).
    follows: Option<String>,
}

/// What a table file holds: the default unit's values and each unit id's own.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Parsed {
    pub default: Option<Values>,
    pub units: Vec<(u8, Values)>,
}

/// The `[modbus]` section of the rules file `text` (`Ok(None)`: it has
/// none); `name` says where the text came from.
pub(crate) fn in_rules(text: &str, name: &str) -> Result<Option<Parsed>, String> {
    located(text, name, |text| {
        let file: InRules = toml::from_str(text).map_err(toml_error)?;
        file.modbus.map(parsed).transpose()
    })
}

/// The table of `--modbus FILE`, whose text is `text`.
pub(crate) fn alone(text: &str, name: &str) -> Result<Parsed, String> {
    located(text, name, |text| {
        let file: Alone = toml::from_str(text).map_err(toml_error)?;
        let Some(table) = file.modbus else {
            return Err((0..0, "has no [modbus] table (start it with a [[modbus.holding_registers]] block, docs/modbus.md)".into()));
        };
        parsed(table)
    })
}

type Located<T> = Result<T, (Range<usize>, String)>;

fn toml_error(e: toml::de::Error) -> (Range<usize>, String) {
    (e.span().unwrap_or(0..0), e.message().trim_end().to_owned())
}

/// Runs `parse` on `text` and puts `name:line:column` before its mistake.
fn located<T>(text: &str, name: &str, parse: impl FnOnce(&str) -> Located<T>) -> Result<T, String> {
    parse(text).map_err(|(span, why)| {
        let before = &text[..span.start.min(text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        format!("{name}:{line}:{column}: {why}")
    })
}

fn parsed(mut table: RawUnit) -> Located<Parsed> {
    let units = std::mem::take(&mut table.unit);
    let default = values(table, "[modbus]")?;
    let mut own = Vec::new();
    for (id, unit) in units {
        let span = unit.span();
        let number: u8 = id.parse().map_err(|_| {
            (
                span.clone(),
                format!("[modbus.unit.{id}]: a unit id is a number from 0 to 255"),
            )
        })?;
        let unit = unit.into_inner();
        if !unit.unit.is_empty() {
            return Err((
                span,
                format!("[modbus.unit.{id}] has units of its own: units go under [modbus] only"),
            ));
        }
        let where_ = format!("[modbus.unit.{id}]");
        let Some(values) = values(unit, &where_)? else {
            return Err((
                span,
                format!(
                    "{where_} has no blocks: give it coils, discrete_inputs, holding_registers or input_registers"
                ),
            ));
        };
        own.push((number, values));
    }
    if default.is_none() && own.is_empty() {
        return Err((
            0..0,
            "the [modbus] table is empty: give it [[modbus.holding_registers]] (or coils, discrete_inputs, input_registers) blocks".into(),
        ));
    }
    Ok(Parsed {
        default,
        units: own,
    })
}

/// A unit's four areas; `None` when it has no block at all.
fn values(unit: RawUnit, where_: &str) -> Located<Option<Values>> {
    let empty = unit.coils.is_empty()
        && unit.discrete_inputs.is_empty()
        && unit.holding_registers.is_empty()
        && unit.input_registers.is_empty();
    if empty {
        return Ok(None);
    }
    Ok(Some(Values {
        coils: area(unit.coils, where_, "coils", Kind::Bits { writable: true })?,
        discrete_inputs: area(
            unit.discrete_inputs,
            where_,
            "discrete_inputs",
            Kind::Bits { writable: false },
        )?,
        holding: area(
            unit.holding_registers,
            where_,
            "holding_registers",
            Kind::Registers { writable: true },
        )?,
        input: area(
            unit.input_registers,
            where_,
            "input_registers",
            Kind::Registers { writable: false },
        )?,
    }))
}

#[derive(Clone, Copy)]
enum Kind {
    Bits { writable: bool },
    Registers { writable: bool },
}

/// One area's blocks, checked: each whole and inside 0..=65535, none overlapping.
fn area<T: Copy + FromToml>(
    blocks: Vec<Spanned<RawBlock>>,
    where_: &str,
    area: &str,
    kind: Kind,
) -> Located<Area<T>> {
    let mut checked: Vec<(Range<usize>, Block<T>)> = Vec::new();
    for (i, spanned) in blocks.into_iter().enumerate() {
        let span = spanned.span();
        let raw = spanned.into_inner();
        let label = match &raw.name {
            Some(name) => format!("{where_} {area} block {} ({name:?})", i + 1),
            None => format!("{where_} {area} block {}", i + 1),
        };
        let block =
            block::<T>(raw, kind).map_err(|why| (span.clone(), format!("{label}: {why}")))?;
        checked.push((span, block));
    }
    checked.sort_by_key(|(_, b)| b.start);
    for pair in checked.windows(2) {
        let (first, second) = (&pair[0].1, &pair[1].1);
        let end = u32::from(first.start) + first.values.len() as u32;
        if u32::from(second.start) < end {
            return Err((
                pair[1].0.clone(),
                format!(
                    "{where_} {area}: the block at address {} overlaps the one at {}..{}",
                    second.start,
                    first.start,
                    end - 1
                ),
            ));
        }
    }
    Ok(Area::new(checked.into_iter().map(|(_, b)| b).collect()))
}

fn block<T: Copy + FromToml>(raw: RawBlock, kind: Kind) -> Result<Block<T>, String> {
    let (bits, writable) = match kind {
        Kind::Bits { writable } => (true, writable),
        Kind::Registers { writable } => (false, writable),
    };
    let follows = match &raw.follows {
        None => None,
        Some(text) => Some(follows(text, bits, &raw)?),
    };
    if bits && (raw.min.is_some() || raw.max.is_some()) {
        return Err("min and max are for registers; a bit is 0 or 1".into());
    }
    if !writable && raw.read_only {
        return Err(
            "read_only is for coils and holding registers: no function writes this area anyway"
                .into(),
        );
    }
    let (min, max) = (raw.min.unwrap_or(0), raw.max.unwrap_or(u16::MAX));
    if min > max {
        return Err(format!("min {min} is above max {max}"));
    }
    let values: Vec<T> = match (&raw.value, &raw.values) {
        (Some(_), Some(_)) => return Err("has value and values: give one".into()),
        (Some(value), None) => {
            let value = T::from_toml(value)?;
            let count = raw.count.unwrap_or(1);
            if count == 0 {
                return Err("count is 0: a block has at least one address".into());
            }
            vec![value; count.min(0x1_0000) as usize]
        }
        (None, Some(values)) => {
            if values.is_empty() {
                return Err("values is empty: give at least one".into());
            }
            if let Some(count) = raw.count.filter(|&c| c as usize != values.len()) {
                return Err(format!("count is {count} but values has {}", values.len()));
            }
            values
                .iter()
                .enumerate()
                .map(|(i, v)| T::from_toml(v).map_err(|why| format!("values[{i}]: {why}")))
                .collect::<Result<_, _>>()?
        }
        (None, None) => {
            let count = raw.count.unwrap_or(1);
            if count == 0 {
                return Err("count is 0: a block has at least one address".into());
            }
            vec![T::zero(); count.min(0x1_0000) as usize]
        }
    };
    let end = u32::from(raw.address) + values.len() as u32;
    if end > 0x1_0000 {
        return Err(format!(
            "{} addresses from {} pass the last address, 65535",
            values.len(),
            raw.address
        ));
    }
    if let Some((i, v)) = values.iter().enumerate().find(|(_, v)| !v.within(min, max)) {
        return Err(format!(
            "the value at address {} ({}) is outside min..max ({min}..{max})",
            u32::from(raw.address) + i as u32,
            v.shown()
        ));
    }
    Ok(Block {
        start: raw.address,
        values,
        min,
        max,
        read_only: raw.read_only,
        follows,
    })
}

/// The NAME of `follows = "global.NAME"`, checked: a register block of one address.
fn follows(text: &str, bits: bool, raw: &RawBlock) -> Result<Box<str>, String> {
    if bits {
        return Err(format!(
            "follows = {text:?}: only a register may follow a variable, not a bit"
        ));
    }
    let name = text
        .strip_prefix("global.")
        .filter(|name| crate::state::is_name(name))
        .ok_or(format!(
            "follows = {text:?}: a register follows a global variable, written global.NAME (e.g. \"global.temp\")"
        ))?;
    let count = match &raw.values {
        Some(values) => values.len(),
        None => raw.count.unwrap_or(1) as usize,
    };
    if count != 1 {
        return Err(format!(
            "follows = {text:?} shows one variable in one register, but the block has {count} addresses: give it count = 1"
        ));
    }
    Ok(name.into())
}

/// A value as a block of the file gives it: a bit (true/false, 1/0) or a register (0..=65535).
trait FromToml: Sized {
    fn from_toml(value: &toml::Value) -> Result<Self, String>;
    fn zero() -> Self;
    fn within(&self, min: u16, max: u16) -> bool;
    fn shown(&self) -> String;
}

impl FromToml for bool {
    fn from_toml(value: &toml::Value) -> Result<Self, String> {
        match value {
            toml::Value::Boolean(b) => Ok(*b),
            toml::Value::Integer(0) => Ok(false),
            toml::Value::Integer(1) => Ok(true),
            other => Err(format!("{other} is not a bit: write true, false, 1 or 0")),
        }
    }
    fn zero() -> Self {
        false
    }
    fn within(&self, _: u16, _: u16) -> bool {
        true
    }
    fn shown(&self) -> String {
        self.to_string()
    }
}

impl FromToml for u16 {
    fn from_toml(value: &toml::Value) -> Result<Self, String> {
        match value {
            toml::Value::Integer(n) => u16::try_from(*n).map_err(|_| {
                format!("{n} does not fit a register: 0 to 65535 (a signed -1 is 65535)")
            }),
            other => Err(format!(
                "{other} is not a register value: write a number from 0 to 65535"
            )),
        }
    }
    fn zero() -> Self {
        0
    }
    fn within(&self, min: u16, max: u16) -> bool {
        (min..=max).contains(self)
    }
    fn shown(&self) -> String {
        self.to_string()
    }
}

#[cfg(test)]
mod tests;
