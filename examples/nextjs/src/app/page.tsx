import { redirect } from "next/navigation";

// The task list is the home page; signed-out visitors are sent on to /signin from there.
export default function Home() {
  redirect("/tasks");
}
