//! Naming a function to a worker process, and calling it there.
//!
//! A task travels as two code offsets, the function's and its trampoline's, each measured
//! from [`anchor`]. Every worker runs the very same executable as the parent (checked at
//! start-up by [`crate::process::boot`]), so an offset names the same code in both
//! processes even though each maps the executable at its own address. Both ends check that
//! an offset lands in the executable's code (see [`crate::process::code`]): a function
//! elsewhere is refused with a typed error, never called through a wrong address.

use std::panic::{AssertUnwindSafe, catch_unwind};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{TaskError, panic_message};
use crate::process::code;

/// The body of a reply frame: the task's value.
pub(crate) const REPLY_VALUE: u8 = 4;
/// The body of a reply frame: the task's panic message.
pub(crate) const REPLY_PANICKED: u8 = 5;
/// The body of a reply frame: why the argument or result could not be (de)serialized.
pub(crate) const REPLY_CODEC: u8 = 6;

/// Decodes an argument, calls the function at an address, and encodes the reply into `out`.
///
/// It returns the reply's kind. The address must be that of a function of the type the
/// trampoline was made for.
pub(crate) type Trampoline = unsafe fn(function: usize, input: &[u8], out: &mut Vec<u8>) -> u8;

/// A function and its trampoline, as offsets from [`anchor`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Call {
    /// The offset of the trampoline that decodes, calls and encodes.
    pub(crate) trampoline: u64,
    /// The offset of the user's function.
    pub(crate) function: u64,
}

/// The fixed point offsets are measured from. Its body is irrelevant; its address is not.
#[inline(never)]
pub(crate) fn anchor() -> u64 {
    0x706f_6f6c_7363_6f70
}

/// The address of [`anchor`] in this process.
pub(crate) fn anchor_address() -> u64 {
    let anchor: fn() -> u64 = anchor;
    anchor as usize as u64
}

/// The offset of `address` from [`anchor`].
pub(crate) fn offset_of(address: usize) -> u64 {
    (address as u64).wrapping_sub(anchor_address())
}

/// The address in this process at `offset` from [`anchor`].
pub(crate) fn address_at(offset: u64) -> usize {
    anchor_address().wrapping_add(offset) as usize
}

impl Call {
    /// The call of `function`, whose argument and result cross as postcard bytes.
    ///
    /// # Errors
    ///
    /// [`TaskError::ForeignFunction`] if `function` is not in the executable's code.
    pub(crate) fn of<A, R>(function: fn(A) -> R) -> Result<Call, TaskError>
    where
        A: DeserializeOwned,
        R: Serialize,
    {
        let trampoline: Trampoline = call_one::<A, R>;
        Call::checked(trampoline, function as usize)
    }

    /// The call of `function` on every item of a chunk, each item's panic caught apart.
    ///
    /// # Errors
    ///
    /// [`TaskError::ForeignFunction`] if `function` is not in the executable's code.
    pub(crate) fn chunk_of<A, R>(function: fn(A) -> R) -> Result<Call, TaskError>
    where
        A: DeserializeOwned,
        R: Serialize,
    {
        let trampoline: Trampoline = call_chunk::<A, R>;
        Call::checked(trampoline, function as usize)
    }

    /// The call of the function at `function` through `trampoline`, if both are in the
    /// executable's code.
    fn checked(trampoline: Trampoline, function: usize) -> Result<Call, TaskError> {
        Call::check_address(trampoline as usize).map_err(TaskError::ForeignFunction)?;
        Call::check_address(function).map_err(TaskError::ForeignFunction)?;
        Ok(Call {
            trampoline: offset_of(trampoline as usize),
            function: offset_of(function),
        })
    }

    /// Checks that the function at `address` is in the executable's code; if not, says
    /// where it is.
    pub(crate) fn check_address(address: usize) -> Result<(), String> {
        if code::contains(address) {
            return Ok(());
        }
        let object = code::object_name(address);
        Err(format!(
            "the code at {address:#x} is in {object}; a worker runs only functions linked into the executable"
        ))
    }

    /// Whether both offsets land in this executable's code.
    pub(crate) fn is_in_executable(self) -> bool {
        code::contains(address_at(self.trampoline)) && code::contains(address_at(self.function))
    }

    /// Runs the call on `input`, writing the reply body to `out`; returns the reply's kind.
    ///
    /// # Safety
    ///
    /// The offsets must come from [`Call::of`] or [`Call::chunk_of`] in a process running
    /// this same executable. [`Call::is_in_executable`] checks that they land in its code,
    /// which catches a corrupt offset, but not one taken from another function.
    pub(crate) unsafe fn run(self, input: &[u8], out: &mut Vec<u8>) -> u8 {
        let trampoline = address_at(self.trampoline);
        // SAFETY: by this function's contract the offset was taken from a `Trampoline` in
        // the same executable, so this address holds a function of that type.
        let trampoline: Trampoline =
            unsafe { std::mem::transmute::<usize, Trampoline>(trampoline) };
        // SAFETY: the function offset was taken together with this trampoline's, from a
        // function of the type the trampoline was instantiated for.
        unsafe { trampoline(address_at(self.function), input, out) }
    }
}

/// The trampoline of [`Call::of`].
///
/// # Safety
///
/// `function` must be the address of a `fn(A) -> R`.
unsafe fn call_one<A, R>(function: usize, input: &[u8], out: &mut Vec<u8>) -> u8
where
    A: DeserializeOwned,
    R: Serialize,
{
    // SAFETY: the caller guarantees the address holds a `fn(A) -> R`.
    let function = unsafe { std::mem::transmute::<usize, fn(A) -> R>(function) };
    let argument: A = match postcard::from_bytes(input) {
        Ok(argument) => argument,
        Err(error) => return codec_reply(out, "decode the argument", &error),
    };
    match catch_unwind(AssertUnwindSafe(|| function(argument))) {
        Ok(value) => encode_value(out, &value),
        Err(payload) => {
            out.extend_from_slice(panic_message(&*payload).as_bytes());
            REPLY_PANICKED
        }
    }
}

/// The trampoline of [`Call::chunk_of`]: the reply is a `Vec<Result<R, String>>`.
///
/// # Safety
///
/// `function` must be the address of a `fn(A) -> R`.
unsafe fn call_chunk<A, R>(function: usize, input: &[u8], out: &mut Vec<u8>) -> u8
where
    A: DeserializeOwned,
    R: Serialize,
{
    // SAFETY: the caller guarantees the address holds a `fn(A) -> R`.
    let function = unsafe { std::mem::transmute::<usize, fn(A) -> R>(function) };
    let items: Vec<A> = match postcard::from_bytes(input) {
        Ok(items) => items,
        Err(error) => return codec_reply(out, "decode the arguments", &error),
    };
    let results: Vec<Result<R, String>> = items
        .into_iter()
        .map(|item| {
            catch_unwind(AssertUnwindSafe(|| function(item)))
                .map_err(|payload| panic_message(&*payload))
        })
        .collect();
    encode_value(out, &results)
}

/// Serializes `value` into `out` as a value reply, or a codec reply if it cannot be.
fn encode_value<T: Serialize>(out: &mut Vec<u8>, value: &T) -> u8 {
    let start = out.len();
    match postcard::serialize_with_flavor(value, Appender(out)) {
        Ok(_) => REPLY_VALUE,
        Err(error) => {
            out.truncate(start);
            codec_reply(out, "encode the result", &error)
        }
    }
}

/// Appends serialized bytes to a borrowed buffer, which survives a failed serialization.
///
/// Byte strings are copied whole: byte-by-byte extension is slow in unoptimized builds.
pub(crate) struct Appender<'a>(pub(crate) &'a mut Vec<u8>);

impl postcard::ser_flavors::Flavor for Appender<'_> {
    type Output = ();

    fn try_push(&mut self, byte: u8) -> postcard::Result<()> {
        self.0.push(byte);
        Ok(())
    }

    fn try_extend(&mut self, bytes: &[u8]) -> postcard::Result<()> {
        self.0.extend_from_slice(bytes);
        Ok(())
    }

    fn finalize(self) -> postcard::Result<()> {
        Ok(())
    }
}

/// Writes a codec reply saying what could not be done.
fn codec_reply(out: &mut Vec<u8>, what: &str, error: &postcard::Error) -> u8 {
    out.extend_from_slice(format!("the worker could not {what}: {error}").as_bytes());
    REPLY_CODEC
}
