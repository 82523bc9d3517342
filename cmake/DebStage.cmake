# SPDX-License-Identifier: GPL-3.0-or-later
# Run by CPack (CPACK_PRE_BUILD_SCRIPTS) on the staged tree before it is packed.
set(root "${CPACK_TEMPORARY_DIRECTORY}")
set(src "${CPACK_FP_SOURCE_DIR}")
set(doc "${root}/usr/share/doc/fleetpower")

# Man pages gzip'ed (-n: no name or time stamp, so the package is reproducible).
file(GLOB pages "${root}/usr/share/man/man*/*")
foreach(p IN LISTS pages)
  if(NOT p MATCHES "\\.gz$")
    execute_process(COMMAND gzip -9nf "${p}" COMMAND_ERROR_IS_FATAL ANY)
  endif()
endforeach()

# copyright and changelog, as every Debian package has them.
file(MAKE_DIRECTORY "${doc}")
configure_file("${src}/contrib/debian/copyright" "${doc}/copyright" COPYONLY)
if(DEFINED ENV{SOURCE_DATE_EPOCH})
  set(epoch "$ENV{SOURCE_DATE_EPOCH}")
else()
  execute_process(COMMAND git -C "${src}" log -1 --format=%ct OUTPUT_VARIABLE epoch
                  OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0 OR epoch STREQUAL "")
    string(TIMESTAMP epoch "%s" UTC)
  endif()
endif()
execute_process(COMMAND date -u -R -d "@${epoch}" OUTPUT_VARIABLE when OUTPUT_STRIP_TRAILING_WHITESPACE
                COMMAND_ERROR_IS_FATAL ANY)
file(WRITE "${doc}/changelog"
"fleetpower (${CPACK_PACKAGE_VERSION}) unstable; urgency=medium

  * Built from the fleetpower source tree with CPack; the project's history
    is its git log.

 -- ${CPACK_DEBIAN_PACKAGE_MAINTAINER}  ${when}
")
execute_process(COMMAND gzip -9nf "${doc}/changelog" COMMAND_ERROR_IS_FATAL ANY)

# /etc/fleetpower with its one conffile (every setting commented out).
file(MAKE_DIRECTORY "${root}/etc/fleetpower")
configure_file("${src}/contrib/debian/fleetpower.conf" "${root}/etc/fleetpower/fleetpower.conf" COPYONLY)
file(CHMOD "${root}/etc/fleetpower/fleetpower.conf" PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
