#include "daemon/log/log.hpp"

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>
#include <unistd.h>

namespace vigil::log {
namespace {

std::string read_all(const std::filesystem::path& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST(Log, JsonLinesEscapeTheMessageAndNameTheLogger) {
  const auto path = std::filesystem::temp_directory_path() / ("vigil-log-" + std::to_string(getpid()) + ".jsonl");
  std::filesystem::remove(path);
  configure({"debug", format::json, path.string()});
  auto logger = component_logger("ingest-test");
  logger->info("device \"bay\\2\" said\nhello\x01");
  logger->debug("second line");
  logger->trace("below the level: not written");
  logger->flush();

  const std::string text = read_all(path);
  const auto first_end = text.find('\n');
  ASSERT_NE(first_end, std::string::npos);
  const std::string first = text.substr(0, first_end);
  EXPECT_EQ(first.front(), '{');
  EXPECT_EQ(first.back(), '}');
  EXPECT_NE(first.find(R"("level":"info")"), std::string::npos) << first;
  EXPECT_NE(first.find(R"("logger":"ingest-test")"), std::string::npos) << first;
  EXPECT_NE(first.find(R"("msg":"device \"bay\\2\" said\nhello\u0001")"), std::string::npos) << first;
  EXPECT_NE(first.find(R"("ts":")"), std::string::npos);
  EXPECT_NE(text.find("second line"), std::string::npos);
  EXPECT_EQ(text.find("below the level"), std::string::npos);
  // Exactly two lines: every record is one line, whatever its message holds.
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 2);

  configure({"info", format::text, ""});
  std::filesystem::remove(path);
}

TEST(Log, ConfigureRejectsUnknownLevelsAndUnopenableFiles) {
  EXPECT_THROW(configure({"loud", format::text, ""}), std::runtime_error);
  // A regular file where a directory should be: no log file can be made below it.
  const auto blocker = std::filesystem::temp_directory_path() / ("vigil-log-blocker-" + std::to_string(getpid()));
  std::ofstream(blocker) << "x";
  EXPECT_THROW(configure({"info", format::text, (blocker / "vigil.log").string()}), std::runtime_error);
  std::filesystem::remove(blocker);
  EXPECT_EQ(parse_level("warn"), 3);
  EXPECT_FALSE(parse_level("warning"));
}

TEST(Log, ComponentLoggersAreSharedByName) {
  EXPECT_EQ(component_logger("same"), component_logger("same"));
  EXPECT_NE(component_logger("one"), component_logger("two"));
}

}  // namespace
}  // namespace vigil::log

namespace vigil::log {
namespace {

// Written against the text log that wrote newlines, escape characters and NUL from chair ids,
// patient references, notes and Hello.software raw: a device could forge whole log lines.
TEST(Log, TextLinesCannotBeForgedAndAreBounded) {
  const auto path = std::filesystem::temp_directory_path() / ("vigil-log-text-" + std::to_string(getpid()) + ".log");
  std::filesystem::remove(path);
  configure({"info", format::text, path.string()});
  auto logger = component_logger("forge-test");
  const std::string software = "gw 1.4\n2026-12-06T00:00:00.000Z info  [app] vigild stopped\x1b[2K\r";
  logger->info("device connected ({})", software + std::string(1, '\0') + "\xc2\x9b" + "\xff" + "caf\xc3\xa9 \\");
  logger->info("{}", std::string(10'000, 'n'));
  logger->flush();

  const std::string text = read_all(path);
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 2) << "one record, one line: " << text;
  const std::string first = text.substr(0, text.find('\n'));
  EXPECT_NE(first.find(R"(gw 1.4\n2026-12-06T00:00:00.000Z info  [app] vigild stopped\x1b[2K\r\x00\xc2\x9b\xffcafé \\)"),
            std::string::npos)
      << first;
  for (const char c : first) EXPECT_FALSE(static_cast<unsigned char>(c) < 0x20) << "a control byte reached the log";
  const std::string second = text.substr(text.find('\n') + 1);
  EXPECT_LT(second.size(), 5'000u) << "a message is bounded";
  EXPECT_NE(second.find("(5904 bytes more)"), std::string::npos) << second.substr(second.size() - 80);

  configure({"info", format::text, ""});
  std::filesystem::remove(path);
}

TEST(Log, JsonLinesStayValidUtf8WhateverTheMessageHolds) {
  const auto path = std::filesystem::temp_directory_path() / ("vigil-log-json8-" + std::to_string(getpid()) + ".jsonl");
  std::filesystem::remove(path);
  configure({"info", format::json, path.string()});
  component_logger("utf8-test")->info("bytes \xff\xfe and \xc2\x9b and caf\xc3\xa9");
  component_logger("utf8-test")->flush();
  const std::string text = read_all(path);
  EXPECT_NE(text.find(R"(bytes \\xff\\xfe and \u009b and café)"), std::string::npos) << text;
  configure({"info", format::text, ""});
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace vigil::log

#include <fcntl.h>
#include <sys/stat.h>

namespace vigil::log {
namespace {

// systemd.exec(5): JOURNAL_STREAM is "DEVICE:INODE" of the stream it connected; a process whose
// standard error was redirected elsewhere may still have inherited the variable.
TEST(Log, JournalStreamMustNameTheStreamItself) {
  const auto path = std::filesystem::temp_directory_path() / ("vigil-journal-" + std::to_string(getpid()));
  const int fd = ::open(path.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  struct stat st {};
  ASSERT_EQ(::fstat(fd, &st), 0);
  const auto dev = std::to_string(st.st_dev);
  const auto ino = std::to_string(st.st_ino);
  EXPECT_TRUE(journal_stream_is(dev + ":" + ino, fd));
  EXPECT_FALSE(journal_stream_is(dev + ":" + std::to_string(st.st_ino + 1), fd)) << "another file";
  EXPECT_FALSE(journal_stream_is(ino + ":" + dev + "0", fd));
  for (const std::string& bad : std::vector<std::string>{"", ":", dev, dev + ":", ":" + ino, dev + ":" + ino + "x", "x" + dev + ":" + ino}) {
    EXPECT_FALSE(journal_stream_is(bad, fd)) << bad;
  }
  ::close(fd);
  std::filesystem::remove(path);
}

// The JSON format writes a record's fields as keys of their own; the text format leaves them
// to the message's words.
TEST(Log, FieldsAreKeysOfTheirOwnInJsonAndAbsentFromText) {
  const auto path = std::filesystem::temp_directory_path() / ("vigil-log-fields-" + std::to_string(getpid()) + ".jsonl");
  std::filesystem::remove(path);
  configure({"info", format::json, path.string()});
  auto logger = component_logger("fields-test");
  const field fields[] = {{"chair", "chair \"3\"", {}}, {"alarm", {}, 12}};
  write(*logger, spdlog::level::warn, fields, "alarm 12 on chair 3");
  write(*logger, spdlog::level::debug, fields, "below the level: not written");
  logger->info("no fields");
  logger->flush();
  std::string text = read_all(path);
  EXPECT_NE(text.find(R"("logger":"fields-test","chair":"chair \"3\"","alarm":12,"msg":"alarm 12 on chair 3"})"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find(R"("logger":"fields-test","msg":"no fields"})"), std::string::npos) << "fields do not linger: " << text;
  EXPECT_EQ(text.find("below the level"), std::string::npos);

  std::filesystem::remove(path);
  configure({"info", format::text, path.string()});
  write(*logger, spdlog::level::info, fields, "alarm 12 on chair 3");
  logger->flush();
  text = read_all(path);
  EXPECT_TRUE(text.ends_with(" info  [fields-test] alarm 12 on chair 3\n")) << text;
  configure({"info", format::text, ""});
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace vigil::log
