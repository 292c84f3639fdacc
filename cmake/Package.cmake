# What a Debian package of Vigil installs, and how CPack builds it (scripts/package.sh).
# Paths are those of the package: programs in /usr/bin, profiles and scenarios in
# /usr/share/vigil, the configuration in /etc/vigil (a conffile, its profiles_dir pointing at the
# installed profiles), the systemd unit in /lib/systemd/system, the documents in /usr/share/doc.
include(GNUInstallDirs)

set(VIGIL_PROFILES_DIR "/usr/share/vigil/profiles")

# The example configuration as installed: the shipped file, with profiles_dir set.
file(READ ${PROJECT_SOURCE_DIR}/config/vigild.yaml vigil_config)
string(REPLACE "  profiles_dir: \"\"" "  profiles_dir: ${VIGIL_PROFILES_DIR}" vigil_config "${vigil_config}")
if(NOT vigil_config MATCHES "profiles_dir: ${VIGIL_PROFILES_DIR}")
  message(FATAL_ERROR "config/vigild.yaml: no 'profiles_dir: \"\"' line to point at the installed profiles")
endif()
file(WRITE ${PROJECT_BINARY_DIR}/package/vigild.yaml "${vigil_config}")

# The unit as installed: the programs in /usr/bin, the documents in /usr/share/doc.
file(READ ${PROJECT_SOURCE_DIR}/config/vigild.service vigil_unit)
string(REPLACE "/usr/local/bin/" "/usr/bin/" vigil_unit "${vigil_unit}")
string(REPLACE "/usr/local/share/doc/" "/usr/share/doc/" vigil_unit "${vigil_unit}")
file(WRITE ${PROJECT_BINARY_DIR}/package/vigild.service "${vigil_unit}")

install(FILES ${PROJECT_BINARY_DIR}/package/vigild.yaml DESTINATION /etc/vigil
        PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ)
install(FILES ${PROJECT_BINARY_DIR}/package/vigild.service DESTINATION /lib/systemd/system)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/config/profiles/ DESTINATION ${CMAKE_INSTALL_DATADIR}/vigil/profiles
        FILES_MATCHING PATTERN "*.yaml")
install(DIRECTORY ${PROJECT_SOURCE_DIR}/config/scenarios/ DESTINATION ${CMAKE_INSTALL_DATADIR}/vigil/scenarios)
install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(FILES ${PROJECT_SOURCE_DIR}/config/profiles/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR} RENAME profiles.md)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR}/docs
        FILES_MATCHING PATTERN "*.md" PATTERN "*.png" PATTERN "*.html")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME vigil)
set(CPACK_PACKAGE_VENDOR "Vigil")
set(CPACK_PACKAGE_CONTACT "Vigil maintainers <vigil@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "vital-signs monitoring for ketamine and esketamine sessions")
set(CPACK_PACKAGE_DESCRIPTION
    "vigild ingests heart-rate, blood-pressure and SpO2 streams from monitors, runs each session and raises, escalates and clears alarms; vigilctl is the operators' command line; vigil-sim simulates monitors and patients.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION misc)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    "${PROJECT_SOURCE_DIR}/packaging/debian/postinst;${PROJECT_SOURCE_DIR}/packaging/debian/postrm;${PROJECT_SOURCE_DIR}/packaging/debian/prerm;${PROJECT_SOURCE_DIR}/packaging/debian/conffiles")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_WARN_ON_ABSOLUTE_INSTALL_DESTINATION OFF)
include(CPack)
