//! Where this executable's code lies, so that a function is named to a worker only when an
//! offset from [`anchor`](crate::process::call::anchor) really names it there.
//!
//! Offsets are measured within one loaded object: the one holding the anchor, which is the
//! program's executable (the runtime is linked into it). A function elsewhere, in a shared
//! library say, may load at another distance from the anchor in a worker, so its offset
//! would name other code there. [`contains`] tells the two apart.

use std::ffi::{CStr, c_int, c_void};
use std::ops::Range;
use std::sync::OnceLock;

/// The executable segments of the object holding the anchor, found on first use.
fn segments() -> &'static [Range<usize>] {
    static SEGMENTS: OnceLock<Vec<Range<usize>>> = OnceLock::new();
    SEGMENTS.get_or_init(|| {
        let mut search = Search {
            anchor: crate::process::call::anchor_address() as usize,
            found: Vec::new(),
        };
        // SAFETY: the callback only reads the program headers the loader hands it, for the
        // duration of the call, and `search` outlives the call.
        unsafe { libc::dl_iterate_phdr(Some(visit_object), (&raw mut search).cast()) };
        search.found
    })
}

/// Whether `address` lies in the code of the object that holds the anchor.
pub(crate) fn contains(address: usize) -> bool {
    segments().iter().any(|segment| segment.contains(&address))
}

/// The name of the loaded object holding `address`, for error messages.
pub(crate) fn object_name(address: usize) -> String {
    let mut info = std::mem::MaybeUninit::<libc::Dl_info>::zeroed();
    // SAFETY: `dladdr` only writes into `info`; a zeroed `Dl_info` is a valid value of it.
    let found = unsafe { libc::dladdr(address as *const c_void, info.as_mut_ptr()) };
    // SAFETY: `info` was zeroed and `dladdr` writes only valid pointers or leaves them null.
    let info = unsafe { info.assume_init() };
    if found == 0 || info.dli_fname.is_null() {
        return "no loaded object".to_owned();
    }
    // SAFETY: a non-null `dli_fname` points to the loader's NUL-terminated name of the object.
    let name = unsafe { CStr::from_ptr(info.dli_fname) };
    name.to_string_lossy().into_owned()
}

/// What [`visit_object`] looks for and finds.
struct Search {
    /// The anchor's address.
    anchor: usize,
    /// The executable segments of the object holding it, once found.
    found: Vec<Range<usize>>,
}

/// The callback of `dl_iterate_phdr`: records the executable segments of the object that
/// holds the anchor, and stops there.
///
/// # Safety
///
/// `info` must point to a valid `dl_phdr_info` whose `dlpi_phdr` holds `dlpi_phnum`
/// headers, and `data` to a [`Search`], as `dl_iterate_phdr` guarantees for the pointer
/// passed to it.
unsafe extern "C" fn visit_object(
    info: *mut libc::dl_phdr_info,
    _size: libc::size_t,
    data: *mut c_void,
) -> c_int {
    // SAFETY: by this function's contract both pointers are valid for this call.
    let (info, search) = unsafe { (&*info, &mut *data.cast::<Search>()) };
    // SAFETY: the loader hands `dlpi_phnum` headers at `dlpi_phdr`.
    let headers =
        unsafe { std::slice::from_raw_parts(info.dlpi_phdr, usize::from(info.dlpi_phnum)) };
    let base = info.dlpi_addr as usize;
    let loaded = headers
        .iter()
        .filter(|header| header.p_type == libc::PT_LOAD);
    let ranges = loaded.map(|header| {
        let start = base + header.p_vaddr as usize;
        (start..start + header.p_memsz as usize, header.p_flags)
    });
    let ranges: Vec<_> = ranges.collect();
    if !ranges
        .iter()
        .any(|(range, _)| range.contains(&search.anchor))
    {
        return 0;
    }
    let executable = ranges
        .into_iter()
        .filter(|(_, flags)| flags & libc::PF_X != 0);
    search.found = executable.map(|(range, _)| range).collect();
    1
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A function in this executable.
    fn local(x: u32) -> u32 {
        x + 1
    }

    #[test]
    fn code_of_the_executable_is_told_from_a_shared_library() {
        let local: fn(u32) -> u32 = local;
        assert!(contains(local as usize));
        assert!(contains(crate::process::call::anchor_address() as usize));

        let foreign = libc::getpid as *const () as usize;
        assert!(!contains(foreign));
        assert!(
            object_name(foreign).contains("libc"),
            "{}",
            object_name(foreign)
        );
        let heap = Box::new(0_u8);
        assert!(!contains(&raw const *heap as usize));
    }
}
